/**
 * The log-query rules of a strict public JSON-RPC endpoint, as pure functions: how many blocks an
 * `eth_getLogs` / `eth_newFilter` range may span and how far behind the head it may start. Used by
 * {@link ../strict-rpc-proxy.ts StrictRpcProxy}; the refusals mirror what real endpoints answer
 * (Lotus refuses lookbacks past its 2,880-epoch window; public Ethereum gateways cap ranges).
 */

/** JSON-RPC error code of a log query over too many blocks (EIP-1474 "limit exceeded"). */
export const RANGE_REFUSAL_CODE = -32005;

/** JSON-RPC error code of a log query that starts too far behind the head (EIP-1474 "invalid params"). */
export const LOOKBACK_REFUSAL_CODE = -32602;

/** Methods whose first parameter is a log filter (`{ fromBlock, toBlock, blockHash, address, topics }`). */
export const LOG_FILTER_METHODS: ReadonlySet<string> = new Set(["eth_getLogs", "eth_newFilter"]);

/** Limits on a log query, in blocks (epochs on Filecoin). */
export interface LogQueryLimits {
  /** Most blocks a range may span, both ends included (2,000 on many public endpoints). */
  maxLogRangeBlocks: number;
  /** Oldest `fromBlock` allowed is head − this (2,880 epochs, one day, on Lotus). */
  maxLookbackBlocks: number;
}

/** Why a log query is refused, with the JSON-RPC error to answer. */
export interface Refusal {
  kind: "range" | "lookback";
  /** JSON-RPC error code: {@link RANGE_REFUSAL_CODE} or {@link LOOKBACK_REFUSAL_CODE}. */
  code: number;
  message: string;
  /** The resolved block numbers (hex) and the limit, for whoever reads the error. */
  data: { fromBlock: string; toBlock: string; head: string; limit: number };
}

/** One JSON-RPC request object as it arrived (nothing about it is trusted). */
export interface JsonRpcCall {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

/** A JSON-RPC 2.0 error response object. */
export interface JsonRpcErrorResponse {
  jsonrpc: "2.0";
  id: unknown;
  error: { code: number; message: string; data?: unknown };
}

/**
 * The block number a block parameter stands for.
 *
 * @param tag `latest`, `pending`, `safe` and `finalized` (all taken as the head: the proxy only
 *   needs an upper bound for ranges), `earliest` (0), a hex quantity, or undefined/null (omitted
 *   means `latest`).
 * @param head The chain's current block number.
 * @returns The block number, or undefined for anything else (the upstream then answers it).
 */
export function resolveBlockTag(tag: unknown, head: bigint): bigint | undefined {
  if (tag === undefined || tag === null) return head;
  if (typeof tag !== "string") return undefined;
  switch (tag) {
    case "latest":
    case "pending":
    case "safe":
    case "finalized":
      return head;
    case "earliest":
      return 0n;
  }
  return /^0x[0-9a-fA-F]+$/.test(tag) ? BigInt(tag) : undefined;
}

/**
 * Checks a log filter against the limits. A `blockHash` filter names a single block and always
 * passes; so does anything malformed (the upstream answers it as it would without the proxy).
 *
 * @param filter The first parameter of `eth_getLogs` / `eth_newFilter` (or the filter an
 *   `eth_getFilterLogs` refers to).
 * @param head The chain's current block number.
 * @returns The refusal (range first, then lookback), or undefined when the query may go through.
 * @example checkLogFilter({ fromBlock: "0x0", toBlock: "0x7d0" }, 5000n, limits) // range: 2,001 blocks
 */
export function checkLogFilter(filter: unknown, head: bigint, limits: LogQueryLimits): Refusal | undefined {
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) return undefined;
  const f = filter as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown };
  if (f.blockHash !== undefined && f.blockHash !== null) return undefined;
  const from = resolveBlockTag(f.fromBlock, head);
  const to = resolveBlockTag(f.toBlock, head);
  if (from === undefined || to === undefined) return undefined;
  const blocks = { fromBlock: hex(from), toBlock: hex(to), head: hex(head) };
  if (to >= from && to - from + 1n > BigInt(limits.maxLogRangeBlocks)) {
    return {
      kind: "range",
      code: RANGE_REFUSAL_CODE,
      message: `query exceeds max block range ${limits.maxLogRangeBlocks}`,
      data: { ...blocks, limit: limits.maxLogRangeBlocks },
    };
  }
  if (from < head - BigInt(limits.maxLookbackBlocks)) {
    return {
      kind: "lookback",
      code: LOOKBACK_REFUSAL_CODE,
      message: `lookbacks older than ${limits.maxLookbackBlocks} epochs are not allowed`,
      data: { ...blocks, limit: limits.maxLookbackBlocks },
    };
  }
  return undefined;
}

/** A JSON-RPC 2.0 error response for the request with this `id`. */
export function errorResponse(id: unknown, code: number, message: string, data?: unknown): JsonRpcErrorResponse {
  return { jsonrpc: "2.0", id: id ?? null, error: data === undefined ? { code, message } : { code, message, data } };
}

/** True when a request object is a notification (no `id` member), which gets no response. */
export function isNotification(call: JsonRpcCall): boolean {
  return typeof call !== "object" || call === null || !("id" in call);
}

function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}
