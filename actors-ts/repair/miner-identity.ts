import { zeroAddress } from "viem";
import { ChainDivergedError } from "../chain/checkpoint";
import { addRepairAsk, claimEarnings, createRepairMiner, setMinerEndpoint } from "../chain/repair-market/actions";
import { getAsk, getMiner, getRepairParams, repairMinerOfWorker } from "../chain/repair-market/reads";
import type { RepairComponents } from "./components";
import type { RepairConfig } from "./config";

/**
 * The repair miner's on-chain identity: its miner (found by worker address, else created with
 * the configured pledge), its endpoint, its ask, and the claim of its earnings. Each function
 * persists what it learns in the repair store, so a restart finds the same miner and ask.
 */

/**
 * Finds this worker's repair miner (the store's record, else by worker address on chain, else a
 * new one with `config.pledge`, default pledgePerByte × 1 GiB) and points its endpoint at `url`.
 *
 * @returns The miner id.
 * @throws ChainDivergedError (the recorded miner does not exist on this chain or is another
 * owner's), ContractRevertedError (createRepairMiner: not enough tokens for the pledge).
 */
export async function ensureMiner(
  c: Pick<RepairComponents, "clients" | "contracts" | "logger" | "store">,
  config: Pick<RepairConfig, "dataDir" | "pledge" | "rpcUrl">,
  url: string,
): Promise<bigint> {
  const { store, clients, contracts, logger } = c;
  let minerId = store.get("minerId") ? BigInt(store.get("minerId") as string) : undefined;
  if (minerId === undefined) {
    // A wiped data dir: the miner is found again by its worker address.
    minerId = await repairMinerOfWorker(clients, contracts, clients.account.address);
    if (minerId !== undefined) logger.warn({ minerId }, "no local state: found this worker's repair miner on chain");
  }
  if (minerId === undefined) {
    const repairParams = await getRepairParams(clients, contracts);
    const pledge = config.pledge ?? repairParams.pledgePerByte * (1n << 30n);
    ({ minerId } = await createRepairMiner(clients, contracts, clients.account.address, pledge, url));
    logger.info({ minerId, pledge }, "repair miner created on chain");
  } else {
    const miner = await getMiner(clients, contracts, minerId);
    if (miner.owner.toLowerCase() !== clients.account.address.toLowerCase()) {
      // Say what is wrong instead of letting setMinerEndpoint revert NotMinerOwner.
      throw new ChainDivergedError(
        miner.owner === zeroAddress
          ? `repair miner ${minerId} recorded in this data dir does not exist on this chain: ` +
              "the chain was reset or forked from before the miner was created"
          : `repair miner ${minerId} recorded in this data dir belongs to ${miner.owner} on this chain, ` +
              `not to ${clients.account.address}`,
        {
          details: {
            dataDir: config.dataDir,
            rpcUrl: config.rpcUrl,
            hint: "point --rpc at the chain this data dir was made on, or start with a new --data-dir",
          },
        },
      );
    }
    if (miner.endpoint !== url) await setMinerEndpoint(clients, contracts, minerId, url);
  }
  store.set("minerId", minerId.toString());
  return minerId;
}

/**
 * Keeps one active ask of miner `minerId` at the configured price and size: returns the stored
 * ask while it is active and more than half its validity is left, else posts a fresh one.
 *
 * @returns The ask id. @throws ContractRevertedError (addAsk), viem's RPC errors.
 */
export async function ensureAsk(
  c: Pick<RepairComponents, "clients" | "contracts" | "logger" | "store">,
  config: Pick<RepairConfig, "ask">,
  minerId: bigint,
): Promise<bigint> {
  const { store, clients, contracts } = c;
  const head = await clients.public.getBlockNumber();
  const known = store.get("askId");
  if (known) {
    const ask = await getAsk(clients, contracts, BigInt(known));
    if (
      ask.active &&
      ask.minerId === minerId &&
      ask.expiryEpoch > head + config.ask.validityEpochs / 2n &&
      ask.pricePerBytePerEpoch === config.ask.pricePerBytePerEpoch &&
      ask.maxSize === config.ask.maxSize
    ) {
      return BigInt(known);
    }
  }
  const { askId } = await addRepairAsk(clients, contracts, {
    minerId,
    pricePerBytePerEpoch: config.ask.pricePerBytePerEpoch,
    maxSize: config.ask.maxSize,
    expiryEpoch: head + config.ask.validityEpochs,
  });
  store.set("askId", askId.toString());
  c.logger.info(
    {
      askId,
      previousAskId: known,
      price: config.ask.pricePerBytePerEpoch,
      expiryEpoch: head + config.ask.validityEpochs,
    },
    known ? "repair ask renewed" : "repair ask posted",
  );
  return askId;
}

/** Claims the earnings of every open repair deal (Placing or Active) in one transaction. */
export async function claimOpenDeals(
  c: Pick<RepairComponents, "clients" | "contracts" | "logger" | "store">,
): Promise<void> {
  const open = c.store.deals(["placing", "active"]).map((d) => d.dealId);
  if (open.length === 0) return;
  const { amounts } = await claimEarnings(c.clients, c.contracts, open);
  c.logger.info({ deals: open.length, claimed: amounts.reduce((a, b) => a + b, 0n) }, "earnings claimed");
}
