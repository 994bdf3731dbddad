import type { ChainClients } from "./clients";

/**
 * Most blocks one `eth_getLogs` asks for. Public endpoints cap a log query at 2,000–10,000
 * blocks (DESIGN.md "Time and real chains"); 2,000 passes all of them.
 */
export const DEFAULT_LOG_RANGE_BLOCKS = 2_000n;

/**
 * Oldest block, counted back from the head, an agent ever asks logs of: Lotus-based Filecoin
 * endpoints refuse lookbacks past 2,880 epochs (one day). Facts needed for longer come from
 * contract views or the agent's own database, never from old logs.
 */
export const DEFAULT_LOG_LOOKBACK_BLOCKS = 2_880n;

/** How an agent reads logs: range per request and the furthest lookback. */
export interface LogLimits {
  /** Blocks per `eth_getLogs` request (≥ 1). */
  rangeBlocks: bigint;
  /** Blocks behind the head no request reaches past. */
  lookbackBlocks: bigint;
}

/** The defaults: {@link DEFAULT_LOG_RANGE_BLOCKS} and {@link DEFAULT_LOG_LOOKBACK_BLOCKS}. */
export const DEFAULT_LOG_LIMITS: LogLimits = {
  rangeBlocks: DEFAULT_LOG_RANGE_BLOCKS,
  lookbackBlocks: DEFAULT_LOG_LOOKBACK_BLOCKS,
};

/** A block range, both ends included (empty when `fromBlock > toBlock`). */
export interface BlockWindow {
  fromBlock: bigint;
  toBlock: bigint;
}

/**
 * `window` cut to what the endpoint serves: no earlier than `head − lookbackBlocks`, no later
 * than `head`.
 */
export function clampWindow(window: BlockWindow, head: bigint, limits: LogLimits): BlockWindow {
  const floor = head > limits.lookbackBlocks ? head - limits.lookbackBlocks : 0n;
  return {
    fromBlock: window.fromBlock > floor ? window.fromBlock : floor,
    toBlock: window.toBlock < head ? window.toBlock : head,
  };
}

/**
 * Reads `window` in ranges of `limits.rangeBlocks` blocks, newest range first, until `read` has
 * returned something `done` accepts (default: never, so every range is read). The window is
 * first clamped to the lookback ({@link clampWindow}).
 *
 * @param read Reads one range (`eth_getLogs` calls); its results are collected in block order
 *   within a range, newest range first.
 * @returns Everything read.
 * @throws Whatever `read` throws (the RPC layer has already retried transient failures).
 */
export async function scanNewestFirst<T>(
  c: Pick<ChainClients, "public"> & { logLimits?: LogLimits },
  window: BlockWindow,
  read: (range: BlockWindow) => Promise<T[]>,
  done: (found: T[]) => boolean = () => false,
): Promise<T[]> {
  const limits = c.logLimits ?? DEFAULT_LOG_LIMITS;
  const head = await c.public.getBlockNumber();
  const { fromBlock, toBlock } = clampWindow(window, head, limits);
  const found: T[] = [];
  for (let to = toBlock; to >= fromBlock; to -= limits.rangeBlocks) {
    const from = to - limits.rangeBlocks + 1n > fromBlock ? to - limits.rangeBlocks + 1n : fromBlock;
    found.push(...(await read({ fromBlock: from, toBlock: to })));
    if (done(found)) break;
  }
  return found;
}

/** The next range a cursor-following scanner reads, and what it had to skip. */
export interface CursorRange extends BlockWindow {
  /** Blocks between the cursor and `fromBlock` left unread: older than the lookback. */
  skippedBlocks: bigint;
}

/**
 * The next range after `cursor` (the last block already read) up to `safeBlock` (the newest
 * block to act on: the head less the confirmations), at most `rangeBlocks` long. A cursor that
 * fell further behind than the lookback (an agent stopped for longer) jumps to the oldest block
 * the endpoint serves, and says how many blocks it skipped: what they held must come from views.
 *
 * @returns The range, or undefined when the cursor is at `safeBlock` already.
 */
export function nextCursorRange(
  cursor: bigint,
  safeBlock: bigint,
  head: bigint,
  limits: LogLimits,
): CursorRange | undefined {
  if (safeBlock <= cursor) return undefined;
  const floor = head > limits.lookbackBlocks ? head - limits.lookbackBlocks : 0n;
  const fromBlock = cursor + 1n >= floor ? cursor + 1n : floor;
  const last = fromBlock + limits.rangeBlocks - 1n;
  return {
    fromBlock,
    toBlock: last < safeBlock ? last : safeBlock,
    skippedBlocks: fromBlock - (cursor + 1n),
  };
}
