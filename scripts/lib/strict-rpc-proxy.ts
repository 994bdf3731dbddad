import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setMaxListeners } from "node:events";
import { SeededRandom, TokenBucket } from "./fault-injection";
import { HttpUpstream, type UpstreamResponse } from "./http-upstream";
import { parseJson, readBody, resetSocket, send, sleepAtLeast, withoutUndefined } from "./proxy-io";
import {
  checkLogFilter,
  errorResponse,
  isNotification,
  LOG_FILTER_METHODS,
  type JsonRpcCall,
  type Refusal,
} from "./json-rpc-limits";

/** Options of a {@link StrictRpcProxy}; every one but `upstreamUrl` has a default. */
export interface StrictRpcProxyOptions {
  /** The JSON-RPC endpoint behind the proxy (http: or https:), e.g. a `hardhat node`. */
  upstreamUrl: string;
  /** Address to listen on. Default "127.0.0.1". */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** Most blocks an `eth_getLogs` / `eth_newFilter` range may span, both ends included. Default 2,000. */
  maxLogRangeBlocks?: number;
  /** Log queries whose `fromBlock` is below head − this are refused (eth_getLogs, eth_newFilter, eth_getFilterLogs). Default 2,880. */
  maxLookbackBlocks?: number;
  /** Token-bucket refill, in JSON-RPC calls per second over all clients (a batch costs one per entry, at most `burst`); Infinity for no limit. Default 50. */
  ratePerSecond?: number;
  /** Token-bucket capacity, in calls. Default 100. */
  burst?: number;
  /** Fraction (0..1) of HTTP requests that fail: half answered 503, half dropped (socket reset, no response). Default 0.02. */
  failureRate?: number;
  /** When true a dropped request is forwarded first and only its response lost (tests idempotent writes); when false it never reaches the upstream. Default false. */
  dropsReachUpstream?: boolean;
  /** Milliseconds added before each request is checked and forwarded. Default 25. */
  latencyMs?: number;
  /** Up to this many milliseconds more, uniform, drawn per request. Default 0. */
  latencyJitterMs?: number;
  /** Seed of the pseudo-random draws (failures, jitter); the same seed and request order give the same run. Default 1. */
  seed?: number;
  /** Methods never failed on purpose (503 / drop); a batch is exempt when all its entries are. Default: none. */
  exempt?: (method: string) => boolean;
  /** How long the upstream's `eth_blockNumber` answer is reused to resolve `latest`, in milliseconds. Default 1,000. */
  headCacheMs?: number;
  /** Largest request body accepted, in bytes; a bigger one is answered 413. Default 10 MiB. */
  maxBodyBytes?: number;
  /** An upstream request idle this long fails with 502, in milliseconds. Default 30,000. */
  upstreamTimeoutMs?: number;
}

/** What a {@link StrictRpcProxy} did since it started; every field counts events. */
export interface StrictRpcProxyStats {
  /** HTTP requests received. */
  requests: number;
  /** JSON-RPC calls in them (each batch entry counts). */
  calls: number;
  /** Calls forwarded to the upstream. */
  forwarded: number;
  /** Calls refused by the log-query rules, by rule. */
  refused: { range: number; lookback: number };
  /** HTTP 429 answers (rate limit). */
  rateLimited: number;
  /** HTTP 503 answers injected. */
  unavailable: number;
  /** Requests dropped: socket reset without a response. */
  dropped: number;
  /** HTTP 502 answers: the upstream failed or did not answer. */
  upstreamErrors: number;
  /** HTTP 413 answers: body over `maxBodyBytes`. */
  tooLarge: number;
}

type Settings = Required<Omit<StrictRpcProxyOptions, "exempt">> & Pick<StrictRpcProxyOptions, "exempt">;

/** The defaults of {@link StrictRpcProxyOptions} (units as documented there). */
export const STRICT_RPC_DEFAULTS: Readonly<Omit<Settings, "upstreamUrl" | "exempt">> = {
  host: "127.0.0.1",
  port: 0,
  maxLogRangeBlocks: 2_000,
  maxLookbackBlocks: 2_880,
  ratePerSecond: 50,
  burst: 100,
  failureRate: 0.02,
  dropsReachUpstream: false,
  latencyMs: 25,
  latencyJitterMs: 0,
  seed: 1,
  headCacheMs: 1_000,
  maxBodyBytes: 10 * 1024 * 1024,
  upstreamTimeoutMs: 30_000,
};

const MAX_RECORDED_FILTERS = 10_000;

/**
 * A JSON-RPC proxy that behaves like a strict public endpoint: it refuses log ranges over
 * `maxLogRangeBlocks` and lookbacks over `maxLookbackBlocks` (each batch entry checked on its
 * own), answers 429 above a request rate, fails a seeded share of requests with 503 or a dropped
 * connection, and adds latency. Order per request: size limit, rate limit, injected failure,
 * latency, log rules, upstream.
 *
 * @example
 * const proxy = new StrictRpcProxy({ upstreamUrl: devnet.rpcUrl, failureRate: 0.05, seed: 7 });
 * const { url } = await proxy.start(); // give agents `url` instead of devnet.rpcUrl
 * // …
 * expect(proxy.stats().refused.range).to.be.greaterThan(0);
 * await proxy.stop();
 */
export class StrictRpcProxy {
  private readonly settings: Settings;
  private readonly random: SeededRandom;
  private readonly bucket: TokenBucket;
  private readonly upstream: HttpUpstream;
  private readonly sockets = new Set<Socket>();
  /** Aborts every wait and upstream request at stop(); one listener per request in flight. */
  private readonly aborter = abortControllerForMany();
  /** Filters created through the proxy, by id, so `eth_getFilterLogs` can be checked. */
  private readonly filters = new Map<string, unknown>();
  private readonly counters: StrictRpcProxyStats = {
    requests: 0,
    calls: 0,
    forwarded: 0,
    refused: { range: 0, lookback: 0 },
    rateLimited: 0,
    unavailable: 0,
    dropped: 0,
    upstreamErrors: 0,
    tooLarge: 0,
  };
  private server?: Server;
  private listening?: Promise<{ url: string; port: number }>;
  private stopping?: Promise<void>;
  private head?: { block: bigint; at: number };
  private headInFlight?: Promise<bigint>;

  /** @throws RangeError when an option is out of range; Error when `upstreamUrl` is not http(s). */
  constructor(options: StrictRpcProxyOptions) {
    this.settings = {
      ...STRICT_RPC_DEFAULTS,
      ...withoutUndefined(options),
      upstreamUrl: options.upstreamUrl,
    };
    const s = this.settings;
    if (!(s.failureRate >= 0 && s.failureRate <= 1)) throw new RangeError(`failureRate must be in [0, 1]`);
    for (const name of ["maxLogRangeBlocks", "maxLookbackBlocks", "latencyMs", "latencyJitterMs"] as const) {
      if (!(s[name] >= 0)) throw new RangeError(`${name} must be ≥ 0, got ${s[name]}`);
    }
    this.random = new SeededRandom(s.seed);
    this.bucket = new TokenBucket(s.ratePerSecond, s.burst);
    this.upstream = new HttpUpstream(s.upstreamUrl, s.upstreamTimeoutMs);
  }

  /**
   * Listens on `host:port` (a free port by default). Calling it again returns the same address.
   *
   * @returns The proxy's URL (`http://127.0.0.1:<port>`) and port.
   * @throws Error when the address cannot be bound or the proxy was stopped.
   */
  start(): Promise<{ url: string; port: number }> {
    if (this.stopping) return Promise.reject(new Error("StrictRpcProxy was stopped"));
    this.listening ??= new Promise((resolve, reject) => {
      const server = createServer((req, res) => void this.handle(req, res));
      this.server = server;
      server.on("connection", (socket: Socket) => {
        this.sockets.add(socket);
        socket.once("close", () => this.sockets.delete(socket));
      });
      server.once("error", reject);
      server.listen(this.settings.port, this.settings.host, () => {
        const address = server.address();
        if (typeof address !== "object" || address === null) return reject(new Error("no address"));
        resolve({ url: `http://${this.settings.host}:${address.port}`, port: address.port });
      });
    });
    return this.listening;
  }

  /** Stops listening, closes every client and upstream socket, abandons requests in flight. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.aborter.abort();
      this.upstream.close();
      for (const socket of this.sockets) socket.destroy();
      if (!this.server?.listening) return resolve();
      this.server.close(() => resolve());
    });
    return this.stopping;
  }

  /** A copy of the counters (see {@link StrictRpcProxyStats}). */
  stats(): StrictRpcProxyStats {
    return { ...this.counters, refused: { ...this.counters.refused } };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        return send(res, 405, "text/plain", "JSON-RPC over HTTP takes POST");
      }
      const body = await readBody(req, this.settings.maxBodyBytes);
      this.counters.requests++;
      if (body === undefined) {
        this.counters.tooLarge++;
        return send(res, 413, "text/plain", `request body over ${this.settings.maxBodyBytes} bytes`, true);
      }
      const parsed = parseCalls(body);
      const calls = parsed?.calls ?? [{}];
      this.counters.calls += calls.length;
      if (!this.bucket.take(calls.length)) return this.answerRateLimited(res, parsed?.batch ?? false, calls);
      const fault = this.drawFault(calls);
      if (fault === "unavailable") {
        this.counters.unavailable++;
        return send(res, 503, "text/plain", "503 Service Unavailable (injected by StrictRpcProxy)");
      }
      if (fault === "drop" && !this.settings.dropsReachUpstream) return this.drop(req);
      const jitter = this.random.next() * this.settings.latencyJitterMs;
      await sleepAtLeast(this.settings.latencyMs + jitter, this.aborter.signal);
      const answer = await this.answer(body, parsed);
      if (fault === "drop") return this.drop(req);
      send(res, answer.status, answer.contentType, answer.body);
    } catch (err) {
      // Stopped, or the client went away: nobody is left to answer.
      if (this.aborter.signal.aborted || req.socket.destroyed) return void req.socket.destroy();
      this.counters.upstreamErrors++;
      send(res, 502, "text/plain", `502 Bad Gateway: ${(err as Error).message}`);
    }
  }

  private answerRateLimited(res: ServerResponse, batch: boolean, calls: JsonRpcCall[]): void {
    this.counters.rateLimited++;
    const retryAfterSeconds = this.bucket.retryAfterSeconds(calls.length);
    const data = { allowedRequestsPerSecond: this.settings.ratePerSecond, retryAfterSeconds };
    const errors = calls.map((c) => errorResponse(c.id, -32005, "request rate exceeded", data));
    res.setHeader("retry-after", String(retryAfterSeconds));
    send(res, 429, "application/json", JSON.stringify(batch ? errors : errors[0]));
  }

  /** One draw per request, exempt or not, so exemptions do not shift the sequence. */
  private drawFault(calls: JsonRpcCall[]): "unavailable" | "drop" | undefined {
    const draw = this.random.next();
    const exempt = this.settings.exempt;
    if (exempt && calls.every((c) => typeof c.method === "string" && exempt(c.method))) return undefined;
    if (draw >= this.settings.failureRate) return undefined;
    return draw < this.settings.failureRate / 2 ? "unavailable" : "drop";
  }

  private drop(req: IncomingMessage): void {
    this.counters.dropped++;
    resetSocket(req.socket);
  }

  /** Refuses what breaks the log rules, forwards the rest, and merges the answers in request order. */
  private async answer(body: Buffer, parsed: ParsedCalls | undefined): Promise<UpstreamResponse> {
    if (!parsed) return this.forward(body, []);
    const refusals = await this.check(parsed.calls);
    const refusedOf = (c: JsonRpcCall, r: Refusal): object => errorResponse(c.id, r.code, r.message, r.data);
    const passing = parsed.calls.filter((_, i) => refusals[i] === undefined);
    if (!parsed.batch) {
      const refusal = refusals[0];
      return refusal ? json(refusedOf(parsed.calls[0], refusal)) : this.forward(body, passing);
    }
    const upstream = passing.length > 0 ? await this.forward(JSON.stringify(passing), passing) : undefined;
    const answers = upstream ? parseJson(upstream.body) : [];
    if (upstream && (upstream.status !== 200 || !Array.isArray(answers))) return upstream;
    const byId = new Map((answers as { id?: unknown }[]).map((a) => [JSON.stringify(a?.id ?? null), a]));
    const merged = parsed.calls.flatMap((call, i) => {
      const refusal = refusals[i];
      if (refusal) return isNotification(call) ? [] : [refusedOf(call, refusal)];
      const answer = byId.get(JSON.stringify(call.id ?? null));
      return answer === undefined || isNotification(call) ? [] : [answer];
    });
    return json(merged);
  }

  private async forward(body: Buffer | string, calls: JsonRpcCall[]): Promise<UpstreamResponse> {
    this.counters.forwarded += Math.max(1, calls.length);
    const res = await this.upstream.post(body, this.aborter.signal);
    if (calls.some((c) => c.method === "eth_newFilter" || c.method === "eth_uninstallFilter")) {
      this.recordFilters(calls, parseJson(res.body));
    }
    return res;
  }

  /** The refusal of each call (undefined: passes); asks the upstream for the head only when needed. */
  private async check(calls: JsonRpcCall[]): Promise<(Refusal | undefined)[]> {
    const filters = calls.map((c) => this.filterOf(c));
    if (filters.every((f) => f === undefined)) return filters.map(() => undefined);
    const head = await this.headBlock();
    return filters.map((f) => {
      if (f === undefined) return undefined;
      const refusal = checkLogFilter(f.filter, head, this.settings);
      if (refusal) this.counters.refused[refusal.kind]++;
      return refusal;
    });
  }

  private filterOf(call: JsonRpcCall): { filter: unknown } | undefined {
    const params = Array.isArray(call.params) ? (call.params as unknown[]) : [];
    if (typeof call.method === "string" && LOG_FILTER_METHODS.has(call.method)) return { filter: params[0] };
    if (call.method !== "eth_getFilterLogs" || typeof params[0] !== "string") return undefined;
    const filter = this.filters.get(params[0].toLowerCase());
    return filter === undefined ? undefined : { filter };
  }

  private recordFilters(calls: JsonRpcCall[], answers: unknown): void {
    const list = (Array.isArray(answers) ? answers : [answers]) as { id?: unknown; result?: unknown }[];
    for (const call of calls) {
      const params = Array.isArray(call.params) ? (call.params as unknown[]) : [];
      if (call.method === "eth_uninstallFilter" && typeof params[0] === "string") {
        this.filters.delete(params[0].toLowerCase());
      }
      if (call.method !== "eth_newFilter") continue;
      const result = list.find((a) => JSON.stringify(a?.id ?? null) === JSON.stringify(call.id ?? null))?.result;
      if (typeof result !== "string") continue;
      if (this.filters.size >= MAX_RECORDED_FILTERS) this.filters.delete(this.filters.keys().next().value ?? "");
      this.filters.set(result.toLowerCase(), params[0]);
    }
  }

  /** The upstream's head (`eth_blockNumber`), reused for `headCacheMs`; one request in flight at most. */
  private async headBlock(): Promise<bigint> {
    if (this.head && performance.now() - this.head.at < this.settings.headCacheMs) return this.head.block;
    this.headInFlight ??= this.upstream
      .call("eth_blockNumber", [], this.aborter.signal)
      .then((result) => {
        if (typeof result !== "string") throw new Error(`eth_blockNumber answered ${JSON.stringify(result)}`);
        this.head = { block: BigInt(result), at: performance.now() };
        return this.head.block;
      })
      .finally(() => (this.headInFlight = undefined));
    return this.headInFlight;
  }
}

interface ParsedCalls {
  batch: boolean;
  calls: JsonRpcCall[];
}

/** The calls of a body (a batch array or one object); undefined when it is not JSON-RPC-shaped. */
function parseCalls(body: Buffer): ParsedCalls | undefined {
  const value = parseJson(body);
  if (Array.isArray(value) && value.length > 0) {
    const entries = value as unknown[];
    return { batch: true, calls: entries.map((v): JsonRpcCall => (typeof v === "object" && v !== null ? v : {})) };
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return { batch: false, calls: [value] };
  }
  return undefined;
}

function json(value: unknown): UpstreamResponse {
  return { status: 200, contentType: "application/json", body: Buffer.from(JSON.stringify(value)) };
}

/** An AbortController whose signal takes any number of listeners (one per request in flight). */
function abortControllerForMany(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
