import { z } from "zod";
import { zUint } from "../core/schemas";

/**
 * Provider daemon configuration: CLI flags over an optional JSON file (`--config`), validated
 * here. Amounts in token base units, sizes in bytes, intervals in milliseconds.
 */
export const providerConfigSchema = z.object({
  /** Directory for the database, pieces and logs. */
  dataDir: z.string().min(1),
  /** Interface to listen on; 127.0.0.1 unless the provider serves other hosts. */
  host: z.string().default("127.0.0.1"),
  /** TCP port; 0 picks a free one (printed on start). */
  port: z.number().int().min(0).max(65_535),
  /** JSON-RPC endpoint of the chain. */
  rpcUrl: z.string().url(),
  /** `deployments/<chainId>.json` of the contracts (or a directory holding it). */
  deployment: z.string().min(1),
  /** URL other agents use to reach this daemon (default: http://host:port). */
  publicUrl: z.string().url().optional(),
  /** Register (or update) the endpoint and asks in ProviderRegistry at start. */
  register: z.boolean().default(true),
  storageAsk: z
    .object({
      /** Token base units per payload byte per epoch (padding to a power of two is free). */
      pricePerBytePerEpoch: zUint.default(1n),
      /** Smallest padded piece accepted, bytes. */
      minPieceSize: zUint.default(128n),
      /** Largest padded piece accepted, bytes. */
      maxPieceSize: zUint.default(1n << 34n),
      /** Provider collateral per payload byte the provider is willing to lock. */
      collateralPerByte: zUint.default(1n),
    })
    .prefault({}),
  retrievalAsk: z
    .object({
      /** Token base units per byte served. */
      pricePerByte: zUint.default(1n),
      /** Bytes sent before the first voucher is due. */
      paymentIntervalBytes: zUint.default(1n << 20n),
      /** Growth of each following interval, bytes. */
      paymentIntervalIncreaseBytes: zUint.default(1n << 20n),
    })
    .prefault({}),
  /**
   * Bytes a retrieval client may have been sent beyond what it has paid for, across all its
   * lanes and channels with this provider, and only as far as its channel's free funds cover them
   * (default: one payment interval; decisions 37).
   */
  maxUnpaidBytes: z.number().int().positive().optional(),
  /** How often retrieval vouchers are redeemed on chain (and settling channels collected), ms. */
  redeemIntervalMs: z.number().int().positive().default(30_000),
  /** Padded bytes the provider will hold. */
  capacityBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 2 ** 30),
  /** Proposals published per transaction. */
  publishBatchSize: z.number().int().min(1).max(100).default(8),
  /** How often stored proposals are published, ms. */
  publishIntervalMs: z.number().int().positive().default(1000),
  /** How often the prover checks its proving period, ms. */
  proveIntervalMs: z.number().int().positive().default(500),
  /** How often deals are settled (payments pulled, ended deals closed), ms. */
  settleIntervalMs: z.number().int().positive().default(15_000),
  /**
   * How often the chain is checked to still be the deployment's (chain id, the deployment's
   * block, the data dir's checkpoint), ms; a chain reset under the provider halts it.
   */
  chainCheckIntervalMs: z.number().int().positive().default(15_000),
  /**
   * Most blocks one `eth_getLogs` asks for (public endpoints cap it at 2,000–10,000), and the
   * furthest back, in blocks from the head, any log is read (Lotus refuses past 2,880); older
   * facts come from views and the data dir (decision 36).
   */
  logRangeBlocks: z.number().int().positive().default(2_000),
  logLookbackBlocks: z.number().int().positive().default(2_880),
  /** How often stored pieces are checked for presence and size, ms. */
  scrubIntervalMs: z.number().int().positive().default(30_000),
  /** Full CommP re-verification of every piece happens every this many scrubs. */
  deepScrubEvery: z.number().int().positive().default(10),
  /**
   * Newest holdings changes kept for `GET /holdings?since=` (seed 002's cache); older ones are
   * folded into the snapshot by the settler's round, and a reader further behind gets a snapshot.
   */
  holdingsLogKeep: z.number().int().positive().default(10_000),
  /** Simultaneous uploads, all peers. */
  maxConcurrentUploads: z.number().int().positive().default(8),
  /** Simultaneous uploads per peer. */
  maxUploadsPerPeer: z.number().int().positive().default(2),
  /** Largest JSON request body, bytes. */
  maxJsonBodyBytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  /** Accepted proposals without data expire after this long, ms. */
  acceptedProposalTtlMs: z
    .number()
    .int()
    .positive()
    .default(60 * 60 * 1000),
  /** Deposit collateral from the provider's wallet when its escrow is short. */
  autoDeposit: z.boolean().default(true),
  /**
   * Deliberate misbehaviour, for testing clients, repair miners and dealbots against bad
   * providers (never set in production): serve corrupted bytes, refuse every deal, or die
   * (SIGKILL) after serving this many retrieval bytes or receiving this many upload bytes, or
   * take the bytes, sign the deal and never publish it (`neverPublish`: the client must publish
   * it itself), or refuse every extension of a deal (`declineExtensions`: its deal runs out at
   * its first end), or never prove possession while still serving retrieval (`stopProving`: its
   * data sets fault every period and then fail).
   */
  faults: z
    .object({
      corruptReads: z.boolean().default(false),
      refuseDeals: z.boolean().default(false),
      neverPublish: z.boolean().default(false),
      declineExtensions: z.boolean().default(false),
      stopProving: z.boolean().default(false),
      dieAfterServedBytes: z.number().int().positive().optional(),
      dieAfterReceivedBytes: z.number().int().positive().optional(),
    })
    .prefault({}),
  /** Log file (default: stderr). */
  logFile: z.string().optional(),
});

export type ProviderConfig = z.infer<typeof providerConfigSchema>;
export type ProviderConfigInput = z.input<typeof providerConfigSchema>;
