import {
  HttpRequestError,
  RpcRequestError,
  TimeoutError,
  createTransport,
  http,
  type EIP1193RequestFn,
  type Transport,
} from "viem";
import { RepairMarketError } from "../core/errors";

/**
 * The chain's JSON-RPC endpoint did not answer a request after every retry (or could not be
 * reached at all). `details` name the endpoint (`rpcUrl`), the JSON-RPC `method` and the
 * `attempts` made; `cause` is the last failure (a viem `HttpRequestError`, `TimeoutError` or
 * `RpcRequestError`).
 */
export class RpcUnavailableError extends RepairMarketError {
  override name = "RpcUnavailableError" as const;
}

/** How {@link rpcTransport} times out and retries (DESIGN.md "Time and real chains"). */
export interface RpcRetryPolicy {
  /** Longest wait for one response, ms. */
  timeoutMs: number;
  /** Retries after the first attempt (so at most `retries + 1` requests per call). */
  retries: number;
  /** Backoff before the first retry, ms; it doubles per retry up to `maxBackoffMs`. */
  baseBackoffMs: number;
  /** Longest backoff, ms (also the cap on a server's Retry-After). */
  maxBackoffMs: number;
}

/**
 * Defaults for an endpoint across a network: 30 s per request and six retries with full-jitter
 * backoff from 250 ms to 8 s — about 20 s of retrying in the worst case, which rides out a public
 * endpoint's rate limit window or a node restart without a caller noticing.
 */
export const DEFAULT_RPC_RETRY_POLICY: RpcRetryPolicy = {
  timeoutMs: 30_000,
  retries: 6,
  baseBackoffMs: 250,
  maxBackoffMs: 8_000,
};

/** HTTP statuses a JSON-RPC endpoint answers for overload or a passing fault. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Whether a failed JSON-RPC request is worth sending again: a dropped or refused connection, a
 * timeout, an HTTP status of overload (429) or a passing server fault (5xx), or a JSON-RPC error
 * that says "rate limited" or "internal error" without being a revert. A revert, an invalid
 * request, a refused log range or any other answer the node would give again is not.
 */
export function isRetryableRpcError(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  if (err instanceof HttpRequestError) return err.status === undefined || RETRYABLE_STATUSES.has(err.status);
  if (err instanceof RpcRequestError) {
    const text = `${err.shortMessage} ${err.details}`.toLowerCase();
    if (/revert|execution|range|lookback|too many blocks|nonce|already known|underpriced/.test(text)) return false;
    // 429 and -32007: rate limits; -32005: "limit exceeded"; -32603: internal error.
    return err.code === 429 || err.code === -32007 || err.code === -32005 || err.code === -32603;
  }
  return false;
}

/**
 * Milliseconds to wait before retry number `attempt` (1-based): "full jitter" — uniform in
 * [0, min(max, base · 2^(attempt−1))] — so many agents retrying one endpoint do not stampede it
 * in step; a Retry-After header (seconds) is honoured up to `maxBackoffMs`.
 */
export function backoffMs(policy: RpcRetryPolicy, attempt: number, err: unknown, random = Math.random): number {
  const retryAfter = err instanceof HttpRequestError ? Number(err.headers?.get("retry-after")) : NaN;
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(policy.maxBackoffMs, retryAfter * 1000);
  const ceiling = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * `fetch` that turns an overload or server-fault status into viem's `HttpRequestError` carrying
 * that status and the Retry-After header. (viem reads a JSON-RPC error out of any non-2xx body
 * and drops the status, so "503 Service Unavailable" with `{"code":-32000}` would look like a
 * node's final answer.)
 */
async function statusKeepingFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (!RETRYABLE_STATUSES.has(response.status)) return response;
  const text = await response.text().catch(() => "");
  throw new HttpRequestError({
    url: String(input instanceof Request ? input.url : input),
    status: response.status,
    headers: response.headers,
    details: text.slice(0, 200) || response.statusText,
  });
}

/**
 * A viem transport over HTTP JSON-RPC that times out every request and retries the failures
 * {@link isRetryableRpcError} accepts with jittered exponential backoff ({@link backoffMs});
 * anything else (a revert, a refused range) is thrown at once, unchanged. viem's own retries are
 * off, so a call makes at most `retries + 1` requests.
 *
 * @param rpcUrl HTTP(S) JSON-RPC URL.
 * @param policy Overrides of {@link DEFAULT_RPC_RETRY_POLICY}.
 * @throws RpcUnavailableError (from a request) naming the endpoint, method and attempts when
 *   every attempt failed.
 * @example
 *   const client = createPublicClient({ transport: rpcTransport("https://rpc.example", { retries: 3 }) });
 */
export function rpcTransport(rpcUrl: string, policy: Partial<RpcRetryPolicy> = {}): Transport {
  const p: RpcRetryPolicy = { ...DEFAULT_RPC_RETRY_POLICY, ...policy };
  const inner = http(rpcUrl, { retryCount: 0, timeout: p.timeoutMs, fetchFn: statusKeepingFetch });
  return ({ chain }) => {
    const base = inner({ chain, retryCount: 0, timeout: p.timeoutMs });
    const request = (async (args: { method: string; params?: unknown }) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await base.request(args as never);
        } catch (err) {
          if (!isRetryableRpcError(err)) throw err;
          if (attempt > p.retries) {
            const reason = err instanceof HttpRequestError && err.status ? `HTTP ${err.status}` : (err as Error).name;
            throw new RpcUnavailableError(`${args.method} to ${rpcUrl} failed after ${attempt} attempts (${reason})`, {
              details: { rpcUrl, method: args.method, attempts: attempt },
              cause: err,
            });
          }
          await new Promise((resolve) => setTimeout(resolve, backoffMs(p, attempt, err)));
        }
      }
    }) as EIP1193RequestFn;
    return createTransport(
      { key: "rpc", name: "JSON-RPC with backoff", type: "http", request, retryCount: 0, timeout: p.timeoutMs },
      { url: rpcUrl },
    );
  };
}
