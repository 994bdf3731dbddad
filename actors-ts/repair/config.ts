import { z } from "zod";
import { zAddress, zUint } from "../core/schemas";

/**
 * Repair miner daemon configuration: CLI flags over an optional JSON file (`--config`).
 * Amounts in token base units, sizes in bytes, intervals in milliseconds, depths in epochs.
 */
export const repairConfigSchema = z
  .object({
    /** Directory for the database, pieces in transit and logs. */
    dataDir: z.string().min(1),
    host: z.string().default("127.0.0.1"),
    /** TCP port; 0 picks a free one. */
    port: z.number().int().min(0).max(65_535),
    rpcUrl: z.string().url(),
    /** `deployments/<chainId>.json` or the directory holding it. */
    deployment: z.string().min(1),
    /** URL clients reach this daemon at (default: the listen address). */
    publicUrl: z.string().url().optional(),
    ask: z
      .object({
        /** Token base units per encoded payload byte per epoch (seed 000 AddRepairAsk). */
        pricePerBytePerEpoch: zUint.default(1n),
        /** Largest encoded payload ((k + m) pieces before padding) accepted, bytes. */
        maxSize: zUint.default(1n << 36n),
        /** Epochs an ask stays valid; it is renewed before it expires. */
        validityEpochs: zUint.default(100_000n),
      })
      .prefault({}),
    /** Pledge deposited when the miner is created, token base units (default: enough for 1 GiB). */
    pledge: zUint.optional(),
    /**
     * Top the pledge up from the worker's wallet when a deal needs more (at the commit, once every
     * byte checked out, by exactly the shortfall). Off by default: pledge is the owner's tokens at
     * stake, slashable, and locked for as long as the deals last; a client chooses the bid's size,
     * so the owner opts in and names a cap (`maxPledge`). Off, a bid the pledge does not cover is
     * refused at the proposal (409 InsufficientPledge) with the amount and the command to add it.
     */
    autoPledge: z.boolean().default(false),
    /** The most pledge a top-up may bring the miner to, token base units; required with `autoPledge`. */
    maxPledge: zUint.optional(),
    /** Epochs behind the head the chain watcher stays (re-org tolerance). */
    confirmations: z.number().int().min(0).default(2),
    /** Chain watcher and health sweep interval, ms. */
    watchIntervalMs: z.number().int().positive().default(1000),
    /**
     * How often the chain is checked to still be the deployment's (chain id, the deployment's
     * block, the data dir's checkpoint), ms; a chain reset under the miner halts it.
     */
    chainCheckIntervalMs: z.number().int().positive().default(15_000),
    /**
     * Most blocks one `eth_getLogs` asks for (public endpoints cap it at 2,000–10,000), and the
     * furthest back, in blocks from the head, any log is read (Lotus refuses past 2,880); older
     * facts come from views and the data dir (decision 36).
     */
    logRangeBlocks: z.number().int().positive().default(2_000),
    logLookbackBlocks: z.number().int().positive().default(2_880),
    /** Placement and repair worker interval, ms. */
    workIntervalMs: z.number().int().positive().default(500),
    /** How often earnings are claimed, ms. */
    claimIntervalMs: z.number().int().positive().default(60_000),
    /**
     * How often the ask is checked, ms: once less than half its validity is left (or its terms
     * differ from `ask`), a fresh one is posted, so clients never stop finding the miner.
     */
    askCheckIntervalMs: z.number().int().positive().default(60_000),
    /** How often the worker's storage deals are checked and the ended ones settled, ms (decision 34). */
    settleIntervalMs: z.number().int().positive().default(60_000),
    /**
     * How often what the miner is owed is withdrawn (free StorageMarket escrow beyond what upcoming
     * placements need, the RepairMarket balance), ms; 0 turns the withdraw loop off (decision 34).
     */
    withdrawIntervalMs: z.number().int().min(0).default(600_000),
    /** Where withdrawn tokens go (default: the miner's owner, which is this worker). */
    withdrawTo: zAddress.optional(),
    /** Storage deals start this many epochs after they are proposed. */
    storageStartDelayEpochs: zUint.optional(),
    /** Placement or repair attempts before a provider is dropped for a piece / a job is parked. */
    maxAttempts: z.number().int().positive().default(6),
    /** A provider found unreachable, or whose storage deal faulted, is not chosen for new placements for this long, ms. */
    unreachableBackoffMs: z.number().int().positive().default(120_000),
    /** Provider scores in [0, 1], set by hand; they win over the feed's. Unknown providers rank after known ones. */
    reputation: z.record(z.string(), z.number().min(0).max(1)).default({}),
    /** A dealbot controller's GET /api/reputation, read for placement (seed 004). */
    reputationUrl: z.string().url().optional(),
    /** How often the reputation feed is read, ms. */
    reputationRefreshMs: z.number().int().positive().default(60_000),
    /** Largest JSON body accepted, bytes. */
    maxJsonBodyBytes: z
      .number()
      .int()
      .positive()
      .default(1 << 20),
    /**
     * A provider that signed its acceptance of a placement but has not published the storage deal
     * after this long has the miner publish it itself with the acceptance (seed 001 steps 2–3), ms.
     */
    selfPublishAfterMs: z.number().int().positive().default(60_000),
    /**
     * Repair jobs started per repairer pass, riskiest first (seed 002: "at most some N repair
     * requests per iteration"); each job downloads the k healthy pieces it needs.
     */
    maxRepairsPerIteration: z.number().int().positive().default(2),
    /** No bytes for this long replaces a provider during a repair download, ms. */
    stallTimeoutMs: z.number().int().positive().default(15_000),
    logFile: z.string().optional(),
  })
  .refine((c) => !c.autoPledge || c.maxPledge !== undefined, {
    message:
      "autoPledge needs maxPledge (--max-pledge N): the most pledge, token base units, a top-up may bring the miner to",
    path: ["maxPledge"],
  });

export type RepairConfig = z.infer<typeof repairConfigSchema>;
