/**
 * `npm run net-proxy -- strict-rpc --target URL [options]` and `npm run net-proxy -- wan --target
 * HOST:PORT [options]`: one network-fault proxy in the foreground (the libraries are
 * scripts/lib/strict-rpc-proxy.ts and scripts/lib/wan-proxy.ts). Prints where it listens (one
 * JSON line with --json), runs until SIGTERM or SIGINT, then closes every socket, prints its
 * counters and exits 0.
 *
 *   npm run net-proxy -- strict-rpc --target http://127.0.0.1:8545 --failure-rate 0.05
 *   npm run net-proxy -- wan --target 127.0.0.1:7001 --latency-ms 40 --rate-mbit 100
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { STRICT_RPC_DEFAULTS, StrictRpcProxy } from "./lib/strict-rpc-proxy";
import { WAN_DEFAULTS, WanProxy } from "./lib/wan-proxy";

/** The parsed options of `strict-rpc` (commander's camelCase names). */
interface StrictRpcCliOptions {
  target: string;
  port: number;
  maxLogRange: number;
  maxLookback: number;
  rate: number;
  burst: number;
  failureRate: number;
  dropsReachUpstream?: boolean;
  latencyMs: number;
  latencyJitterMs: number;
  exempt?: string;
  headCacheMs: number;
  maxBodyBytes: number;
  seed: number;
  json?: boolean;
}

/** The parsed options of `wan`. */
interface WanCliOptions {
  target: { host: string; port: number };
  port: number;
  latencyMs: number;
  rateMbit: number;
  shareLink?: boolean;
  maxQueuedBytes: number;
  resetProbability: number;
  resetAfterBytes: [number, number];
  seed: number;
  json?: boolean;
}

/** An option parser for a number in [min, max]. */
function numberIn(min: number, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number from ${min}${max === Infinity ? " up" : ` to ${max}`}`);
    }
    return n;
  };
}

/** "MIN-MAX" or "N" (both ends N) → [min, max] bytes. */
function byteRange(value: string): [number, number] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected "MIN-MAX" or "N", in bytes');
  const min = Number(match[1]);
  const max = Number(match[2] ?? match[1]);
  if (max < min) throw new InvalidArgumentError("MAX is below MIN");
  return [min, max];
}

function hostPort(value: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value.trim());
  if (!match || Number(match[2]) > 65535) throw new InvalidArgumentError('expected "HOST:PORT"');
  return { host: match[1], port: Number(match[2]) };
}

/** Prints the address, then stops the proxy on SIGTERM/SIGINT and prints its counters. */
function runUntilSignal(proxy: { stop(): Promise<void>; stats(): object }, listening: object, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(listening)}\n` : `${describe(listening)}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    void proxy.stop().then(() => {
      const stats = proxy.stats();
      process.stdout.write(
        json ? `${JSON.stringify({ stopped: signal, stats })}\n` : `stopped (${signal}): ${JSON.stringify(stats)}\n`,
      );
      process.exit(0);
    });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

function describe(listening: object): string {
  return Object.entries(listening)
    .map(([k, v]) => `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("  ");
}

const s = STRICT_RPC_DEFAULTS;
const w = WAN_DEFAULTS;
const program = new Command("net-proxy")
  .description("network-fault proxies for tests and the demo: a strict JSON-RPC endpoint, a wide-area TCP path")
  .addHelpText(
    "after",
    [
      "",
      "Examples:",
      "  npm run net-proxy -- strict-rpc --target http://127.0.0.1:8545 --failure-rate 0.05 --seed 7",
      "  npm run net-proxy -- wan --target 127.0.0.1:7001 --latency-ms 40 --rate-mbit 100 --json",
      "Each command's --help lists its options with their units and defaults.",
    ].join("\n"),
  );

program
  .command("strict-rpc")
  .description(
    "a JSON-RPC proxy as strict as a public endpoint: log range and lookback limits, a rate limit, " +
      "injected 503s and dropped connections, added latency",
  )
  .requiredOption("--target <url>", "upstream JSON-RPC URL, e.g. http://127.0.0.1:8545")
  .option("--port <port>", "port to listen on, on 127.0.0.1 (0: a free one)", numberIn(0, 65535), s.port)
  .option(
    "--max-log-range <blocks>",
    "most blocks an eth_getLogs/eth_newFilter range may span",
    numberIn(0),
    s.maxLogRangeBlocks,
  )
  .option(
    "--max-lookback <blocks>",
    "log queries starting below head − this are refused",
    numberIn(0),
    s.maxLookbackBlocks,
  )
  .option(
    "--rate <calls-per-second>",
    "token-bucket refill in JSON-RPC calls per second (0: no limit)",
    numberIn(0),
    s.ratePerSecond,
  )
  .option("--burst <calls>", "token-bucket capacity in calls", numberIn(1), s.burst)
  .option(
    "--failure-rate <fraction>",
    "share of requests failed, half 503, half dropped (0..1)",
    numberIn(0, 1),
    s.failureRate,
  )
  .option("--drops-reach-upstream", "forward a dropped request before dropping it (only its response is lost)")
  .option("--latency-ms <ms>", "milliseconds added to every request", numberIn(0), s.latencyMs)
  .option(
    "--latency-jitter-ms <ms>",
    "up to this many milliseconds more, uniform per request",
    numberIn(0),
    s.latencyJitterMs,
  )
  .option("--exempt <methods>", "comma-separated methods never failed on purpose, e.g. eth_sendRawTransaction")
  .option("--head-cache-ms <ms>", "how long eth_blockNumber is reused to resolve latest", numberIn(0), s.headCacheMs)
  .option("--max-body-bytes <bytes>", "largest request body accepted (413 above)", numberIn(1), s.maxBodyBytes)
  .option("--seed <n>", "seed of the pseudo-random failures and jitter", numberIn(0), s.seed)
  .option("--json", "print the address and, on exit, the counters as JSON lines")
  .action(async (o: StrictRpcCliOptions) => {
    const exempt = o.exempt === undefined ? undefined : new Set(o.exempt.split(",").map((m) => m.trim()));
    const proxy = new StrictRpcProxy({
      upstreamUrl: o.target,
      port: o.port,
      maxLogRangeBlocks: o.maxLogRange,
      maxLookbackBlocks: o.maxLookback,
      ratePerSecond: o.rate === 0 ? Infinity : o.rate,
      burst: o.burst,
      failureRate: o.failureRate,
      dropsReachUpstream: o.dropsReachUpstream === true,
      latencyMs: o.latencyMs,
      latencyJitterMs: o.latencyJitterMs,
      exempt: exempt && ((method) => exempt.has(method)),
      headCacheMs: o.headCacheMs,
      maxBodyBytes: o.maxBodyBytes,
      seed: o.seed,
    });
    const { url, port } = await proxy.start();
    runUntilSignal(proxy, { kind: "strict-rpc", url, port, target: o.target }, o.json === true);
  });

program
  .command("wan")
  .description(
    "a TCP proxy that makes a local path look like a wide-area one: latency each way, a rate cap " +
      "per connection and direction, occasional resets mid-transfer",
  )
  .requiredOption("--target <host:port>", "where to forward, e.g. 127.0.0.1:7001", hostPort)
  .option("--port <port>", "port to listen on, on 127.0.0.1 (0: a free one)", numberIn(0, 65535), w.port)
  .option("--latency-ms <ms>", "one-way delay in milliseconds, in each direction", numberIn(0), w.latencyMs)
  .option(
    "--rate-mbit <mbit-per-second>",
    "link rate per direction in Mbit/s (0: no cap)",
    numberIn(0),
    w.rateBitsPerSecond / 1e6,
  )
  .option("--share-link", "all connections share one link per direction (default: one link each)")
  .option(
    "--max-queued-bytes <bytes>",
    "bytes queued per connection and direction before the sender is paused",
    numberIn(1),
    w.maxQueuedBytes,
  )
  .option(
    "--reset-probability <p>",
    "probability that a connection is reset mid-transfer (0..1)",
    numberIn(0, 1),
    w.resetProbability,
  )
  .addOption(
    new Option("--reset-after-bytes <min-max>", "a reset comes after this many bytes (both directions), uniform")
      .argParser(byteRange)
      .default([w.resetAfterBytes[0], w.resetAfterBytes[1]], `${w.resetAfterBytes[0]}-${w.resetAfterBytes[1]}`),
  )
  .option("--seed <n>", "seed of the pseudo-random resets", numberIn(0), w.seed)
  .option("--json", "print the address and, on exit, the counters as JSON lines")
  .action(async (o: WanCliOptions) => {
    const proxy = new WanProxy({
      targetHost: o.target.host,
      targetPort: o.target.port,
      port: o.port,
      latencyMs: o.latencyMs,
      rateBitsPerSecond: o.rateMbit === 0 ? Infinity : o.rateMbit * 1e6,
      shareLink: o.shareLink === true,
      maxQueuedBytes: o.maxQueuedBytes,
      resetProbability: o.resetProbability,
      resetAfterBytes: o.resetAfterBytes,
      seed: o.seed,
    });
    const { host, port } = await proxy.start();
    const listening = { kind: "wan", url: `tcp://${host}:${port}`, port, target: `${o.target.host}:${o.target.port}` };
    runUntilSignal(proxy, listening, o.json === true);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`net-proxy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
