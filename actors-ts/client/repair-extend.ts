import { getAddress, type Hex } from "viem";
import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import {
  REPAIR_DEAL_STATES,
  getAsk,
  getBid,
  getRepairDeal,
  latestAskOf,
  repairDealsByDroot,
} from "../chain/repair-market/reads";
import { extendRepairDeal } from "../chain/repair-market/actions";

/** Thrown when the deal's miner has no active ask that covers the deal: it takes no extension now. */
export class NoExtensionAskError extends RepairMarketError {
  override name = "NoExtensionAskError" as const;
}

/** A repair-backed file kept longer ({@link extendRepairBackedFile}). */
export interface ExtendedRepairDeal {
  dealId: bigint;
  /** Epoch the deal ended before, and ends now (block numbers). */
  oldEndEpoch: bigint;
  newEndEpoch: bigint;
  /** Token base units locked for the extra epochs. */
  amount: bigint;
  askId: bigint;
  txHash: Hex;
}

/**
 * Keeps a repair-backed file `extraEpochs` longer (issue 17 "renewal"): finds this client's open
 * repair deal for `droot` (the newest, when a file was stored more than once), picks an ask of
 * that deal's miner that is active, unexpired and covers the deal's price and size, and calls
 * `extendRepairDeal`, paying the bid's price · size · extraEpochs token base units. The miner then
 * extends every piece's storage deal (or re-places the piece) on its own.
 *
 * @param droot The file's data root (32 bytes, 0x-hex).
 * @param extraEpochs Epochs added to the deal's end, > 0.
 * @throws InvalidArgumentError (extraEpochs ≤ 0, or no open repair deal of this client for
 *   droot), NoExtensionAskError (the miner offers no covering ask), ContractRevertedError
 *   (ExtensionTooLate — less than a repair window before the end —, InvalidDuration, …).
 */
export async function extendRepairBackedFile(
  c: { clients: ChainClients; contracts: MarketContracts },
  droot: Hex,
  extraEpochs: bigint,
): Promise<ExtendedRepairDeal> {
  const { clients, contracts } = c;
  if (extraEpochs <= 0n) throw new InvalidArgumentError("--duration must be a positive number of epochs");
  const me = getAddress(clients.account.address);
  let open: { dealId: bigint; deal: Awaited<ReturnType<typeof getRepairDeal>> } | undefined;
  for (const dealId of await repairDealsByDroot(clients, contracts, droot)) {
    const deal = await getRepairDeal(clients, contracts, dealId);
    const state = REPAIR_DEAL_STATES[deal.state];
    if (getAddress(deal.client) === me && (state === "Placing" || state === "Active")) open = { dealId, deal };
  }
  if (!open) {
    throw new InvalidArgumentError(`no open repair deal of ${me} stores ${droot}`, {
      details: { droot, client: me },
    });
  }
  const { dealId, deal } = open;
  const price = (await getBid(clients, contracts, deal.bidId)).pricePerBytePerEpoch;
  const head = await clients.public.getBlockNumber();
  // The miner's newest ask (the daemon renews it before it expires) must cover the deal.
  let askId: bigint | undefined = await latestAskOf(clients, contracts, deal.minerId);
  const ask = await getAsk(clients, contracts, askId);
  const covers = ask.pricePerBytePerEpoch <= price && ask.maxSize >= deal.size;
  if (!(askId !== 0n && ask.active && ask.expiryEpoch > head + 2n && covers)) askId = undefined;
  if (askId === undefined) {
    throw new NoExtensionAskError(`repair miner ${deal.minerId} has no active ask covering repair deal ${dealId}`, {
      details: { dealId: dealId.toString(), minerId: deal.minerId.toString(), pricePerBytePerEpoch: price.toString() },
    });
  }
  const cost = price * deal.size * extraEpochs;
  const extended = await extendRepairDeal(clients, contracts, { dealId, askId, extraEpochs, cost });
  return {
    dealId,
    oldEndEpoch: extended.oldEndEpoch,
    newEndEpoch: extended.newEndEpoch,
    amount: extended.amount,
    askId,
    txHash: extended.hash,
  };
}
