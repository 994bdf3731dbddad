import type { Address } from "viem";
import { claimEarnings } from "../chain/repair-market/actions";
import { REPAIR_DEAL_STATES, getMiner, getRepairDeal } from "../chain/repair-market/reads";
import { listProviders, type RegisteredProvider } from "../chain/registry/reads";
import { withdrawBeyond, type WithdrawBeyondResult } from "../chain/withdraw-all";
import type { RepairComponents, RepairStartup } from "./components";
import type { RepairConfig } from "./config";
import type { DealRow, PieceRow } from "./repair-store";

/** kv prefix of repair deals whose final claim is done (the chain reads them Completed or Lost). */
const FINAL_PREFIX = "final-claim:";

/** What one withdraw round did. */
export interface WithdrawRound extends WithdrawBeyondResult {
  /** Free StorageMarket escrow left for upcoming placements, token base units. */
  reserve: bigint;
  /** Where the tokens went (the wallet that holds them now). */
  to: Address;
  /** Repair deals this round completed on chain with a final `claimEarnings`. */
  finalClaims: bigint[];
}

/**
 * Moves what the repair miner is owed out of the contracts on a schedule (issue 17, decision
 * 34), every `withdrawIntervalMs`:
 *
 * 1. a final `claimEarnings` for repair deals that ended while the chain still reads them Placing
 *    or Active (the claim loop only claims open deals, and the watcher closes a deal locally at
 *    its end epoch, so the last stretch of earnings and the deal's completion would wait forever);
 * 2. StorageMarket's free escrow of the worker beyond {@link placementReserve};
 * 3. RepairMarket's balance of the worker (earnings are credited to the miner's owner, which for
 *    this daemon is the worker: `ensureMiner` creates the miner with itself as both);
 * 4. when `withdrawTo` (default: the miner's owner on chain) is another address, a transfer of
 *    exactly what 2 and 3 brought.
 */
export class Withdrawer {
  constructor(
    private readonly c: Pick<RepairComponents, "clients" | "contracts" | "store" | "logger">,
    private readonly init: Pick<RepairConfig, "withdrawTo"> & Pick<RepairStartup, "minerId" | "provingPeriodEpochs">,
  ) {}

  /** One round. @throws ContractRevertedError, viem's RPC errors (done steps stay done). */
  async tick(): Promise<WithdrawRound> {
    const { clients, contracts, logger } = this.c;
    const finalClaims = await this.claimEnded();
    const reserve = await placementReserve(this.c, this.init.provingPeriodEpochs);
    const to = this.init.withdrawTo ?? (await getMiner(clients, contracts, this.init.minerId)).owner;
    const result = await withdrawBeyond(clients, contracts, { storageKeep: reserve, to });
    const moved = result.withdrawals.filter((w) => w.amount > 0n);
    if (moved.length > 0)
      logger.info(
        {
          reserve: reserve.toString(),
          to,
          withdrawn: Object.fromEntries(moved.map((w) => [w.source, w.amount.toString()])),
          forwardTx: result.forwarded?.hash,
        },
        "withdrew what the miner is owed",
      );
    return { ...result, reserve, to, finalClaims };
  }

  /** Completes on chain the repair deals that ended locally but not yet there. */
  private async claimEnded(): Promise<bigint[]> {
    const { clients, contracts, store, logger } = this.c;
    const head = await clients.public.getBlockNumber();
    const due: bigint[] = [];
    for (const deal of store.deals(["completed", "lost"])) {
      if (store.get(FINAL_PREFIX + deal.dealId.toString())) continue;
      const state = REPAIR_DEAL_STATES[(await getRepairDeal(clients, contracts, deal.dealId)).state];
      if (state === "Completed" || state === "Lost") store.set(FINAL_PREFIX + deal.dealId.toString(), state);
      else if (head >= deal.endEpoch) due.push(deal.dealId);
    }
    if (due.length === 0) return [];
    const { amounts, hash } = await claimEarnings(clients, contracts, due);
    for (const id of due) store.set(FINAL_PREFIX + id.toString(), "Completed");
    logger.info(
      { deals: due.map(String), claimed: amounts.reduce((a, b) => a + b, 0n).toString(), txHash: hash },
      "ended repair deals completed on chain; final earnings claimed",
    );
    return due;
  }
}

/**
 * Free StorageMarket escrow the worker must keep for the storage deals it is about to lock,
 * token base units (decision 34). A placement locks `storagePricePerEpoch · (endEpoch −
 * startEpoch) + clientCollateral` from the worker's free escrow when its deal is published, and
 * the escrow is topped up only when the proposal is signed, so a withdrawal in between would make
 * the publish fail (`ClientBalanceTooLow`). Counted, over repair deals being placed or active
 * that have not reached their end epoch:
 *
 * - a piece with a signed proposal not yet published ("proposed"): that proposal's exact lock;
 * - a piece waiting for a provider ("pending") or lost and waiting for its repair ("lost"): the
 *   most a placement can cost, at the highest storage ask among registered providers that take
 *   the piece size: `price · payloadSize · (deal end − head + provingPeriodEpochs)` (the placer's
 *   duration, bounded above).
 *
 * Not counted: losses that have not happened yet. Their escrow is deposited from the worker's
 * wallet when the proposal is signed, which is why the withdrawals go to the worker by default.
 */
export async function placementReserve(
  c: Pick<RepairComponents, "clients" | "contracts" | "store">,
  provingPeriodEpochs: bigint,
): Promise<bigint> {
  const head = await c.clients.public.getBlockNumber();
  let providers: RegisteredProvider[] | undefined;
  let reserve = 0n;
  for (const deal of c.store.deals(["placing", "active"])) {
    if (deal.endEpoch <= head) continue;
    for (const piece of c.store.pieces(deal.dealId)) {
      if (piece.state === "proposed" && piece.proposal) {
        const p = piece.proposal.proposal;
        reserve += p.storagePricePerEpoch * (p.endEpoch - p.startEpoch) + p.clientCollateral;
      } else if (piece.state === "pending" || piece.state === "lost") {
        providers ??= await listProviders(c.clients, c.contracts);
        reserve += estimatedLock(deal, piece, providers, head, provingPeriodEpochs);
      }
    }
  }
  return reserve;
}

function estimatedLock(
  deal: DealRow,
  piece: PieceRow,
  providers: RegisteredProvider[],
  head: bigint,
  provingPeriodEpochs: bigint,
): bigint {
  let price = 0n;
  for (const p of providers) {
    const ask = p.storageAsk;
    if (ask.minPieceSize <= deal.pieceSize && deal.pieceSize <= ask.maxPieceSize && ask.pricePerBytePerEpoch > price)
      price = ask.pricePerBytePerEpoch;
  }
  return price * BigInt(piece.payloadSize) * (deal.endEpoch - head + provingPeriodEpochs);
}
