import { connect, createServer, type Server, type Socket } from "node:net";
import { SeededRandom } from "./fault-injection";
import { resetSocket, withoutUndefined } from "./proxy-io";
import { DelayLine, LinkSchedule, type DelayLineHooks } from "./wan-link";

/** Options of a {@link WanProxy}; every one but the target has a default. */
export interface WanProxyOptions {
  /** Host the proxy forwards to. */
  targetHost: string;
  /** TCP port the proxy forwards to. */
  targetPort: number;
  /** Address to listen on. Default "127.0.0.1". */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** One-way delay added to every byte in each direction, in milliseconds (a round trip adds twice this). Default 40. */
  latencyMs?: number;
  /** Link rate per direction, in bits per second; Infinity for no cap. Default 100,000,000 (100 Mbit/s). */
  rateBitsPerSecond?: number;
  /** False: each connection has a link of its own (per direction). True: all connections through this proxy share one link per direction, like one access line. Default false. */
  shareLink?: boolean;
  /** Bytes queued per connection and direction above which the sending side is paused (it resumes at half). Default 1 MiB (twice the bandwidth-delay product of 100 Mbit/s × 40 ms). */
  maxQueuedBytes?: number;
  /** Probability (0..1) that a connection is reset (RST both ways) mid-transfer. Default 0.01. */
  resetProbability?: number;
  /** A connection picked for a reset is reset once this many bytes, drawn uniformly in [min, max] and counted over both directions, have been delivered. Default [0, 1 MiB]. */
  resetAfterBytes?: readonly [number, number];
  /** Seed of the pseudo-random draws (which connections are reset, and when). Default 1. */
  seed?: number;
}

/** What a {@link WanProxy} did since it started. */
export interface WanProxyStats {
  /** Connections accepted. */
  connections: number;
  /** Connections still open. */
  openConnections: number;
  /** Bytes delivered to the target (client → target). */
  bytesToTarget: number;
  /** Bytes delivered to clients (target → client). */
  bytesFromTarget: number;
  /** Connections reset on purpose. */
  resets: number;
  /** Connections whose target could not be reached (the client was reset). */
  targetErrors: number;
  /** Most bytes queued in one direction of one connection at once (bounded by maxQueuedBytes + one read). */
  peakQueuedBytes: number;
}

type Settings = Required<WanProxyOptions>;

/** The defaults of {@link WanProxyOptions} (units as documented there). */
export const WAN_DEFAULTS: Readonly<Omit<Settings, "targetHost" | "targetPort">> = {
  host: "127.0.0.1",
  port: 0,
  latencyMs: 40,
  rateBitsPerSecond: 100_000_000,
  shareLink: false,
  maxQueuedBytes: 1024 * 1024,
  resetProbability: 0.01,
  resetAfterBytes: [0, 1024 * 1024],
  seed: 1,
};

/** Segments scheduled one by one on a link, in bytes (a few TCP segments' worth). */
const SEGMENT_BYTES = 16 * 1024;

/**
 * A TCP proxy (toxiproxy-style, on `node:net`) that makes a local path look like a wide-area one:
 * every byte is delayed `latencyMs` in each direction, each direction of a connection is capped at
 * `rateBitsPerSecond` with backpressure to the sender, and a seeded share of connections is reset
 * mid-transfer. Half-closes pass through; a side that aborts has its peer reset.
 *
 * @example
 * const wan = new WanProxy({ targetHost: "127.0.0.1", targetPort: 7001, resetProbability: 0 });
 * const { port } = await wan.start(); // talk to 127.0.0.1:port instead of :7001
 * await wan.stop();
 */
export class WanProxy {
  private readonly settings: Settings;
  private readonly random: SeededRandom;
  private readonly sharedLinks?: { up: LinkSchedule; down: LinkSchedule };
  private readonly connections = new Set<WanConnection>();
  private readonly counters: WanProxyStats = {
    connections: 0,
    openConnections: 0,
    bytesToTarget: 0,
    bytesFromTarget: 0,
    resets: 0,
    targetErrors: 0,
    peakQueuedBytes: 0,
  };
  private server?: Server;
  private listening?: Promise<{ host: string; port: number }>;
  private stopping?: Promise<void>;

  /** @throws RangeError when an option is out of range. */
  constructor(options: WanProxyOptions) {
    this.settings = {
      ...WAN_DEFAULTS,
      ...withoutUndefined(options),
      targetHost: options.targetHost,
      targetPort: options.targetPort,
    };
    const s = this.settings;
    if (!(s.latencyMs >= 0)) throw new RangeError(`latencyMs must be ≥ 0, got ${s.latencyMs}`);
    if (!(s.maxQueuedBytes > 0)) throw new RangeError(`maxQueuedBytes must be > 0, got ${s.maxQueuedBytes}`);
    if (!(s.resetProbability >= 0 && s.resetProbability <= 1))
      throw new RangeError("resetProbability must be in [0, 1]");
    const [min, max] = s.resetAfterBytes;
    if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max >= min)) {
      throw new RangeError(`resetAfterBytes must be integers 0 ≤ min ≤ max, got [${min}, ${max}]`);
    }
    new LinkSchedule(s.rateBitsPerSecond); // validates the rate
    if (s.shareLink) {
      this.sharedLinks = { up: new LinkSchedule(s.rateBitsPerSecond), down: new LinkSchedule(s.rateBitsPerSecond) };
    }
    this.random = new SeededRandom(s.seed);
  }

  /**
   * Listens on `host:port` (a free port by default). Calling it again returns the same address.
   *
   * @returns Where clients connect instead of the target.
   * @throws Error when the address cannot be bound or the proxy was stopped.
   */
  start(): Promise<{ host: string; port: number }> {
    if (this.stopping) return Promise.reject(new Error("WanProxy was stopped"));
    this.listening ??= new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
      this.server = server;
      server.once("error", reject);
      server.listen(this.settings.port, this.settings.host, () => {
        const address = server.address();
        if (typeof address !== "object" || address === null) return reject(new Error("no address"));
        resolve({ host: this.settings.host, port: address.port });
      });
    });
    return this.listening;
  }

  /** Stops listening and closes every client and target socket; resolves once all are closed. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => {
        if (!this.server?.listening) return resolve();
        this.server.close(() => resolve());
      });
      await Promise.all([...this.connections].map((c) => c.destroy()));
      await closed;
    })();
    return this.stopping;
  }

  /** A copy of the counters (see {@link WanProxyStats}). */
  stats(): WanProxyStats {
    const peaks = [...this.connections].map((c) => c.peakQueuedBytes());
    return { ...this.counters, peakQueuedBytes: Math.max(this.counters.peakQueuedBytes, ...peaks) };
  }

  private accept(client: Socket): void {
    if (this.stopping) return void client.destroy();
    this.counters.connections++;
    this.counters.openConnections++;
    const picked = this.random.next() < this.settings.resetProbability;
    const resetAt = this.random.integer(...this.settings.resetAfterBytes);
    const links = this.sharedLinks ?? {
      up: new LinkSchedule(this.settings.rateBitsPerSecond),
      down: new LinkSchedule(this.settings.rateBitsPerSecond),
    };
    const connection = new WanConnection(client, this.settings, links, picked ? resetAt : undefined, this.counters);
    this.connections.add(connection);
    void connection.done.then(() => {
      this.connections.delete(connection);
      this.counters.openConnections--;
    });
  }
}

/** One client connection and its connection to the target, joined by two delay lines. */
class WanConnection {
  /** Resolves once both sockets are closed. */
  readonly done: Promise<void>;
  private readonly target: Socket;
  private readonly up: DelayLine;
  private readonly down: DelayLine;
  private deliveredBytes = 0;
  private wasReset = false;

  constructor(
    private readonly client: Socket,
    settings: Settings,
    links: { up: LinkSchedule; down: LinkSchedule },
    private readonly resetAt: number | undefined,
    private readonly counters: WanProxyStats,
  ) {
    let connected = false;
    this.target = connect({ host: settings.targetHost, port: settings.targetPort, allowHalfOpen: true }, () => {
      connected = true;
    });
    for (const socket of [client, this.target]) socket.setNoDelay(true);
    const line = {
      latencyMs: settings.latencyMs,
      maxQueuedBytes: settings.maxQueuedBytes,
      segmentBytes: SEGMENT_BYTES,
    };
    this.up = new DelayLine(client, this.target, { ...line, schedule: links.up }, this.hooks("bytesToTarget"));
    this.down = new DelayLine(this.target, client, { ...line, schedule: links.down }, this.hooks("bytesFromTarget"));
    client.on("error", () => undefined); // 'close' follows and handles it
    this.target.on("error", () => {
      if (!connected) counters.targetErrors++;
    });
    const closed = (socket: Socket): Promise<void> => new Promise((resolve) => socket.once("close", () => resolve()));
    const clientClosed = closed(client).then(() => this.socketClosed(client));
    const targetClosed = closed(this.target).then(() => this.socketClosed(this.target));
    this.done = Promise.all([clientClosed, targetClosed]).then(() => {
      counters.peakQueuedBytes = Math.max(counters.peakQueuedBytes, this.peakQueuedBytes());
    });
  }

  /** Most bytes queued at once in either direction. */
  peakQueuedBytes(): number {
    return Math.max(this.up.peakQueuedBytes, this.down.peakQueuedBytes);
  }

  /** Closes both sockets (FIN, not a reset) and resolves once they are closed. */
  destroy(): Promise<void> {
    this.up.close();
    this.down.close();
    this.client.destroy();
    this.target.destroy();
    return this.done;
  }

  private hooks(counter: "bytesToTarget" | "bytesFromTarget"): DelayLineHooks {
    return {
      allowance: () => (this.resetAt === undefined ? Infinity : Math.max(0, this.resetAt - this.deliveredBytes)),
      delivered: (bytes) => {
        this.deliveredBytes += bytes;
        this.counters[counter] += bytes;
        if (this.resetAt !== undefined && this.deliveredBytes >= this.resetAt) this.reset();
      },
    };
  }

  /**
   * The injected fault: nothing more is forwarded and both sides get an RST. The RST goes out a
   * turn of the event loop after the last bytes, so a reader that keeps up sees those bytes and
   * then ECONNRESET; on Linux an RST that overtakes unread bytes reads as an early end of stream
   * instead, which is also what a reset mid-transfer looks like to a slow reader.
   */
  private reset(): void {
    if (this.wasReset) return;
    this.wasReset = true;
    this.counters.resets++;
    this.up.close();
    this.down.close();
    this.client.pause();
    this.target.pause();
    setImmediate(() => {
      resetSocket(this.client);
      resetSocket(this.target);
    });
  }

  /** Nothing more reaches `socket`; a side that closed without a FIN (an abort) has its peer reset. */
  private socketClosed(socket: Socket): void {
    const [into, from, peer] =
      socket === this.client ? [this.down, this.up, this.target] : [this.up, this.down, this.client];
    into.close();
    if (!from.sourceEnded) {
      from.close();
      resetSocket(peer);
    }
  }
}

/**
 * One {@link WanProxy} in front of each of several endpoints, e.g. every agent and the chain of a
 * test: `wrapUrl` starts (or reuses) the proxy for a URL's host and port and returns the URL
 * through it. Proxy i gets seed `seed + i`, so two endpoints do not fail in lockstep.
 *
 * @example
 * const wan = new WanProxies({ latencyMs: 40, resetProbability: 0 });
 * const rpcUrl = await wan.wrapUrl(devnet.rpcUrl); // http://127.0.0.1:<proxy port>
 * await wan.stop();
 */
export class WanProxies {
  private readonly proxies = new Map<string, { proxy: WanProxy; started: Promise<{ host: string; port: number }> }>();

  /** @param options What every proxy gets (see {@link WanProxyOptions}); targets and ports come from the URLs. */
  constructor(private readonly options: Omit<WanProxyOptions, "targetHost" | "targetPort" | "port"> = {}) {}

  /**
   * The URL with its host and port replaced by a proxy's (scheme, path, query kept). An https URL
   * keeps working only where the certificate does not name the host (TLS passes through as is).
   *
   * @param url An absolute URL; without a port, the scheme's default (80 for http/ws, 443 for https/wss).
   * @throws TypeError when the URL does not parse; Error when it has no port and an unknown scheme.
   * @example await wan.wrapUrl("http://127.0.0.1:7001") // "http://127.0.0.1:40123"
   */
  async wrapUrl(url: string): Promise<string> {
    const parsed = new URL(url);
    const defaults: Record<string, string> = { "http:": "80", "ws:": "80", "https:": "443", "wss:": "443" };
    const port = parsed.port || defaults[parsed.protocol];
    if (port === undefined) throw new Error(`${url} has no port and ${parsed.protocol} has no default one`);
    const proxied = await this.wrapAddress(parsed.hostname.replace(/^\[(.*)\]$/, "$1"), Number(port));
    const out = new URL(url);
    out.hostname = proxied.host;
    out.port = String(proxied.port);
    const text = out.toString();
    // new URL("http://h:1") prints "http://h:1/": keep a URL without a path as it was given.
    return !url.endsWith("/") && out.pathname === "/" && !out.search && !out.hash ? text.slice(0, -1) : text;
  }

  /**
   * The proxy in front of `host:port`, started if it is new.
   *
   * @returns Where to connect instead.
   */
  wrapAddress(host: string, port: number): Promise<{ host: string; port: number }> {
    const key = `${host}:${port}`;
    let entry = this.proxies.get(key);
    if (!entry) {
      const proxy = new WanProxy({
        ...this.options,
        targetHost: host,
        targetPort: port,
        seed: (this.options.seed ?? 1) + this.proxies.size,
      });
      entry = { proxy, started: proxy.start() };
      this.proxies.set(key, entry);
    }
    return entry.started;
  }

  /** Each proxy's counters, by target `host:port`. */
  stats(): Record<string, WanProxyStats> {
    return Object.fromEntries([...this.proxies].map(([key, { proxy }]) => [key, proxy.stats()]));
  }

  /** Stops every proxy (see {@link WanProxy.stop}). Idempotent. */
  async stop(): Promise<void> {
    await Promise.all([...this.proxies.values()].map(({ proxy }) => proxy.stop()));
  }
}
