import { settleDeals } from "../chain/storage-market/settle-deals";
import { dealInfo } from "../chain/storage-market/reads";
import { clientLockLeft, paidSoFar } from "../chain/storage-market/client-deals";
import { dealsPublishedFor } from "../chain/storage-market/events";
import { nextCursorRange } from "../chain/log-scan";
import type { DealStateName } from "../chain/constants";
import type { RepairComponents, RepairStartup } from "./components";
import type { RepairConfig } from "./config";
import type { WorkerDealRow } from "./worker-deals";

const CURSOR_KEY = "settler.cursor";
/** Most log ranges read in one round (a fresh data dir on a long chain catches up over rounds). */
const MAX_RANGES_PER_ROUND = 10;
/** The market states in which a deal is no longer live: settling it closes it (or soon will). */
const ENDED: ReadonlySet<DealStateName> = new Set(["Terminated", "Expired"]);

/** A deal of the worker the market has ended but nobody has closed yet. */
export interface EndedDealLock {
  storageDealId: bigint;
  state: DealStateName;
  /** Token base units of the worker's escrow still locked by it (returned when it closes). */
  locked: bigint;
}

/** What one settlement round did. */
export interface SettleRound {
  /** Storage deal ids this round closed. */
  closed: bigint[];
  /** Storage deal ids whose settlement failed (each retried next round). */
  failed: bigint[];
}

/**
 * Settles every storage deal whose client is the miner's worker once the market has ended it
 * (issue 17; decisions 30 and 34): a placement whose repair deal completed (its storage deal ends
 * one proving period after the repair deal), a piece's deal whose data set failed, a deal a
 * repair replaced, a deal the placer gave up on after it was published. Until someone calls
 * `settleDeals`, an ended deal keeps the worker's unspent price lock, and the slashed collateral
 * owed to it, locked in StorageMarket.
 *
 * The queue ({@link WorkerDeals}) is fed from the store (pieces and replaced deals) and from a
 * scan of `DealPublished` events naming the worker as client, `confirmations` blocks behind the
 * head from a persisted cursor, so a deal nobody recorded (a publish the placer lost track of) is
 * found too. Each round reads every pending deal: closed (by us or anyone) → done; the chain names
 * another client → done as "foreign", never sent (a row must not make the worker pay gas for, or
 * touch, a deal that is not its own); Terminated or Expired → settled in its own transaction, so
 * one failure (recorded, retried next round) never blocks the others; live → looked at again
 * next round. A repair deal that was lost leaves its remaining storage deals live: the client
 * cannot end a deal early, so they are settled when they expire.
 */
export class StorageDealSettler {
  constructor(
    private readonly c: Pick<RepairComponents, "clients" | "contracts" | "store" | "logger">,
    private readonly init: Pick<RepairConfig, "confirmations"> & Pick<RepairStartup, "deployBlock">,
  ) {}

  /** One round: find new deals of the worker, then settle the ended ones. */
  async tick(): Promise<SettleRound> {
    await this.discover();
    return this.settlePending();
  }

  /**
   * Adds the worker's storage deals known to the store and those published since the cursor.
   *
   * @returns How many deals were new to the queue.
   * @throws viem's RPC errors (the cursor stays where the last full range left it).
   */
  async discover(): Promise<number> {
    const { clients, contracts, store } = this.c;
    let found = store.workerDeals.syncFromPieces();
    const head = await clients.public.getBlockNumber();
    const safe = head - BigInt(this.init.confirmations);
    for (let i = 0; i < MAX_RANGES_PER_ROUND; i++) {
      const cursor = BigInt(store.get(CURSOR_KEY) ?? String(this.init.deployBlock - 1n));
      const range = nextCursorRange(cursor, safe, head, clients.logLimits);
      if (!range) break;
      if (range.skippedBlocks > 0n) {
        // Deals the miner placed itself are in its pieces table; only deals someone else
        // published for the worker in the skipped blocks go unseen here.
        this.c.logger.warn(
          { skippedBlocks: range.skippedBlocks, fromBlock: range.fromBlock },
          "settler cursor is older than the log lookback; reading on from the oldest block served",
        );
      }
      const to = range.toBlock;
      const deals = await dealsPublishedFor(clients, contracts, clients.account.address, range.fromBlock, to);
      store.db.transaction(() => {
        for (const d of deals) if (store.workerDeals.track(d.dealId, d.proposal)) found++;
        store.set(CURSOR_KEY, to.toString());
      })();
    }
    return found;
  }

  /** Settles every pending deal the market has ended, one transaction each. */
  async settlePending(): Promise<SettleRound> {
    const round: SettleRound = { closed: [], failed: [] };
    for (const row of this.c.store.workerDeals.pending()) {
      try {
        if (await this.settleOne(row)) round.closed.push(row.storageDealId);
      } catch (err) {
        round.failed.push(row.storageDealId);
        this.c.store.workerDeals.markError(row.storageDealId, (err as Error).message.split("\n")[0]);
        this.c.logger.warn(
          { err, storageDealId: row.storageDealId.toString(), attempts: row.attempts + 1 },
          "could not settle an ended storage deal of the worker; will retry",
        );
      }
    }
    return round;
  }

  /** @returns Whether this call closed the deal. */
  private async settleOne(row: WorkerDealRow): Promise<boolean> {
    const { clients, contracts, store, logger } = this.c;
    const id = row.storageDealId;
    const worker = clients.account.address.toLowerCase();
    if (row.proposal.client.toLowerCase() !== worker) return this.foreign(row, row.proposal.client);
    const info = await dealInfo(clients, contracts, id);
    if (info.client.toLowerCase() !== worker) return this.foreign(row, info.client);
    if (info.closed) {
      store.workerDeals.markDone(id, "closed");
      return false;
    }
    if (!ENDED.has(info.stateName)) return false;
    const { hash, settled } = await settleDeals(clients, contracts, [{ dealId: id, proposal: row.proposal }]);
    const [result] = settled;
    if (!result?.closed) return false; // Expired, but its last period is not resolved yet.
    store.workerDeals.markDone(id, "settled");
    logger.info(
      { storageDealId: id.toString(), closed: result.closed, payment: result.payment.toString(), txHash: hash },
      `${store.workerDeals.isReplaced(id) ? "replaced" : "ended"} storage deal settled: its locked funds are back in the worker's escrow`,
    );
    return true;
  }

  private foreign(row: WorkerDealRow, client: string): false {
    this.c.store.workerDeals.markDone(row.storageDealId, "foreign");
    this.c.logger.warn(
      { storageDealId: row.storageDealId.toString(), client },
      "a recorded storage deal is not the worker's; it is never settled by this miner",
    );
    return false;
  }

  /**
   * The worker's pending deals the market has ended and nobody has closed, with what each still
   * locks of the worker's escrow (its lock less the `DealSettled` payments so far). A deal whose
   * read fails is left out (it is retried by the rounds, and its error is in the store).
   */
  async endedLocks(): Promise<EndedDealLock[]> {
    const { clients, contracts, store } = this.c;
    const worker = clients.account.address.toLowerCase();
    const out: EndedDealLock[] = [];
    for (const row of store.workerDeals.pending()) {
      if (row.proposal.client.toLowerCase() !== worker) continue;
      try {
        const info = await dealInfo(clients, contracts, row.storageDealId);
        if (info.closed || !ENDED.has(info.stateName) || info.client.toLowerCase() !== worker) continue;
        const paid = await paidSoFar(clients, contracts, row.storageDealId, this.init.deployBlock);
        out.push({
          storageDealId: row.storageDealId,
          state: info.stateName,
          locked: clientLockLeft(row.proposal, paid),
        });
      } catch {
        continue;
      }
    }
    return out;
  }
}
