import type { Chain, Hex, PublicClient, Transport } from "viem";
import { RepairMarketError, type ErrorDetails } from "../core/errors";
import type { ChainClients } from "./clients";

/**
 * Which chain an agent's data dir was built on (DESIGN.md "Time and real chains"): a confirmed
 * block the agent saw, by number and hash. An agent's local state (deal ids, proposals, proven
 * periods, a log cursor) is only true on a chain that still holds that block. A chain that was
 * reset, or forked from an earlier block (Hardhat forks an unknown chain 128 blocks behind its
 * head unless told the block), or reorganised deeper than the checkpoint does not — and acting
 * on it produces wrong errors (a miner that "does not own" its own miner) or false losses.
 */
export interface ChainCheckpoint {
  chainId: number;
  /** Block number (epoch). */
  blockNumber: bigint;
  /** That block's hash. */
  blockHash: Hex;
}

/** The key/value store a checkpoint is kept in (each agent's SQLite `kv` table). */
export interface CheckpointStore {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

const KEY = "chain.checkpoint";

/**
 * Blocks behind the head a checkpoint is taken at, so a reorganisation shallower than this never
 * trips it (a deeper one seen while the agent runs moves the checkpoint, decision 36; one that
 * happened while it was stopped makes it refuse to start, saying so).
 */
export const CHECKPOINT_DEPTH_BLOCKS = 12n;

/**
 * The chain at the RPC endpoint is not the one this data dir was built on (another chain id,
 * fewer blocks, or a different block at the checkpoint's height).
 */
export class ChainDivergedError extends RepairMarketError {
  override name = "ChainDivergedError" as const;
}

/** The checkpoint recorded in `store`, if any. */
export function readCheckpoint(store: CheckpointStore): ChainCheckpoint | undefined {
  const raw = store.get(KEY);
  if (!raw) return undefined;
  const parsed = JSON.parse(raw) as { chainId: number; blockNumber: string; blockHash: Hex };
  return { chainId: parsed.chainId, blockNumber: BigInt(parsed.blockNumber), blockHash: parsed.blockHash };
}

/** Which way a chain differs from what an agent recorded (see {@link checkpointMismatch}). */
export type ChainMismatchKind =
  | "chain-id"
  | "deployment-missing"
  | "deployment-replaced"
  | "contract-missing"
  | "other-deployment"
  | "behind-checkpoint"
  | "checkpoint-replaced";

/**
 * The chain at the endpoint is not the one an agent's data dir or deployment file describes:
 * `message` says what changed, `details.hint` what to do (both one line).
 */
export interface ChainMismatch {
  kind: ChainMismatchKind;
  message: string;
  details: ErrorDetails & { hint: string };
}

/** How to name the data dir and the endpoint in a mismatch. */
export interface MismatchContext {
  rpcUrl: string;
  dataDir?: string;
}

const CHECKPOINT_HINT =
  "point --rpc at the chain this data dir was made on, or start with a new --data-dir " +
  "(a fork must start at or after the data dir's block: hardhat node --fork URL --fork-block-number N)";

/**
 * Compares the chain with the data dir's checkpoint: the chain must reach the checkpoint's block
 * and have the same block there.
 *
 * @param head The chain's head block number.
 * @returns The mismatch, or undefined when the chain holds the checkpoint.
 * @throws viem's RPC errors (RpcUnavailableError through `rpcTransport`).
 */
export async function checkpointMismatch(
  reader: PublicClient<Transport, Chain>,
  known: ChainCheckpoint,
  head: bigint,
  context: MismatchContext,
): Promise<ChainMismatch | undefined> {
  const base = { dataDir: context.dataDir, rpcUrl: context.rpcUrl, hint: CHECKPOINT_HINT };
  if (head < known.blockNumber) {
    return {
      kind: "behind-checkpoint",
      message:
        `the chain is at block ${head}, behind block ${known.blockNumber} that this data dir already saw: ` +
        "it was reset or forked from an earlier block",
      details: { ...base, checkpointBlock: known.blockNumber, checkpointHash: known.blockHash },
    };
  }
  const block = await reader.getBlock({ blockNumber: known.blockNumber });
  if (block.hash?.toLowerCase() === known.blockHash.toLowerCase()) return undefined;
  return {
    kind: "checkpoint-replaced",
    message:
      `block ${known.blockNumber} on this chain is not the one this data dir saw: ` +
      "the chain was reset or reorganised past it",
    details: { ...base, expectedHash: known.blockHash, chainHash: block.hash ?? null },
  };
}

/**
 * Checks that the chain still holds the block this data dir last recorded.
 *
 * @param dataDir Named in the error, with what the operator can do.
 * @throws ChainDivergedError naming both chains' blocks when it does not.
 */
export async function assertSameChain(clients: ChainClients, store: CheckpointStore, dataDir: string): Promise<void> {
  const known = readCheckpoint(store);
  if (!known) return;
  const rpcUrl = clients.chain.rpcUrls.default.http[0];
  if (clients.chain.id !== known.chainId) {
    throw new ChainDivergedError(`this data dir belongs to chain ${known.chainId}, not ${clients.chain.id}`, {
      details: { dataDir, rpcUrl, hint: CHECKPOINT_HINT },
    });
  }
  const head = await clients.public.getBlockNumber();
  const mismatch = await checkpointMismatch(clients.public, known, head, { rpcUrl, dataDir });
  if (mismatch) throw new ChainDivergedError(mismatch.message, { details: mismatch.details });
}

/**
 * Records the block {@link CHECKPOINT_DEPTH_BLOCKS} behind the head as this data dir's
 * checkpoint: only ever moving forward, unless `replace` (the chain reorganised past the old
 * one, which no longer names a block of this chain).
 *
 * @returns The checkpoint now recorded.
 */
export async function advanceCheckpoint(
  clients: Pick<ChainClients, "public" | "chain">,
  store: CheckpointStore,
  options: { replace?: boolean } = {},
): Promise<ChainCheckpoint> {
  const head = await clients.public.getBlockNumber();
  const known = readCheckpoint(store);
  const target = head > CHECKPOINT_DEPTH_BLOCKS ? head - CHECKPOINT_DEPTH_BLOCKS : 0n;
  if (known && known.blockNumber >= target && !options.replace) return known;
  const block = await clients.public.getBlock({ blockNumber: target });
  const next: ChainCheckpoint = { chainId: clients.chain.id, blockNumber: target, blockHash: block.hash };
  store.set(
    KEY,
    JSON.stringify({ chainId: next.chainId, blockNumber: next.blockNumber.toString(), blockHash: next.blockHash }),
  );
  return next;
}
