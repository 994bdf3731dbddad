import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { freePort } from "../../helpers/devnet";
import { waitFor } from "../../helpers/wait";
import { WanProxies, WanProxy, type WanProxyOptions } from "../../../scripts/lib/wan-proxy";

/** A TCP server of the test's own, with every socket it accepted (so it can be checked and closed). */
class TestServer {
  readonly sockets = new Set<Socket>();
  private readonly server: Server;
  port = 0;

  constructor(onConnection: (socket: Socket) => void) {
    this.server = createServer({ allowHalfOpen: true }, (socket) => {
      this.sockets.add(socket);
      socket.on("error", () => undefined); // resets are part of the tests
      socket.once("close", () => this.sockets.delete(socket));
      onConnection(socket);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this.port;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Echoes everything back and half-closes when the client does. */
const echo = (): TestServer => new TestServer((socket) => socket.pipe(socket));
/** Sends `data` to every client, then closes its side. */
const source = (data: Buffer): TestServer => new TestServer((socket) => socket.end(data));
/** Counts what a client sends; when the client closes its side, answers the count and closes. */
const sink = (arrivals: number[] = []): TestServer =>
  new TestServer((socket) => {
    let bytes = 0;
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      arrivals.push(performance.now());
    });
    socket.on("end", () => socket.end(String(bytes)));
  });

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** What a client read until the connection ended, and the error that ended it, if any. */
interface Received {
  data: Buffer;
  error?: NodeJS.ErrnoException;
}

/** Writes `data` (respecting backpressure), closes the sending side and reads until the end. */
function exchange(socket: Socket, data: Buffer = Buffer.alloc(0)): Promise<Received> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: NodeJS.ErrnoException | undefined;
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (err) => (error = err));
    socket.once("close", () => resolve({ data: Buffer.concat(chunks), error }));
    socket.end(data);
  });
}

/** Reads until `count` bytes have arrived. */
function readBytes(socket: Socket, count: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got < count) return;
      socket.off("data", onData);
      resolve(Buffer.concat(chunks));
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");
const MiB = 1024 * 1024;
/** Measured rates may exceed the cap by this fraction (clock reads, float rounding). */
const RATE_SLACK = 0.01;

describe("scripts/lib/wan-proxy: a wide-area path between two local sockets", function () {
  this.timeout(60_000);
  const servers: TestServer[] = [];
  const proxies: { stop(): Promise<void> }[] = [];

  async function serve(server: TestServer): Promise<number> {
    servers.push(server);
    return server.start();
  }

  async function proxyTo(targetPort: number, options: Partial<WanProxyOptions> = {}): Promise<WanProxy> {
    const proxy = new WanProxy({ targetHost: "127.0.0.1", targetPort, resetProbability: 0, ...options });
    proxies.push(proxy);
    await proxy.start();
    return proxy;
  }

  const portOf = async (proxy: WanProxy): Promise<number> => (await proxy.start()).port;

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.stop()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("carries 6 MiB each way intact and in order, and passes the half-close on", async () => {
    const proxy = await proxyTo(await serve(echo()), { latencyMs: 10 });
    const data = randomBytes(6 * MiB);
    const received = await exchange(await connectTo(await portOf(proxy)), data);
    expect(received.error).to.equal(undefined);
    expect(received.data.length).to.equal(data.length);
    expect(sha256(received.data)).to.equal(sha256(data));
    await waitFor("the connection to close", 10_000, async () =>
      proxy.stats().openConnections === 0 ? true : undefined,
    );
    expect(proxy.stats()).to.deep.include({ connections: 1, bytesToTarget: 6 * MiB, bytesFromTarget: 6 * MiB });
  });

  it("delays each direction by latencyMs: one way takes at least that, a round trip twice that", async () => {
    const arrivals: number[] = [];
    const target = new TestServer((socket) =>
      socket.on("data", (chunk: Buffer) => {
        arrivals.push(performance.now());
        socket.write(chunk);
      }),
    );
    const proxy = await proxyTo(await serve(target), { latencyMs: 60 });
    const client = await connectTo(await portOf(proxy));
    for (let i = 0; i < 5; i++) {
      const sent = performance.now();
      client.write("x");
      await readBytes(client, 1);
      const back = performance.now();
      expect(arrivals[i] - sent, "one way").to.be.at.least(60);
      expect(back - sent, "round trip").to.be.at.least(120);
    }
    client.destroy();
  });

  it("caps each direction at rateBitsPerSecond and pauses the sender instead of queueing without bound", async () => {
    const rate = 16_000_000;
    const maxQueuedBytes = 128 * 1024;
    const size = 2 * MiB;
    const options = { latencyMs: 5, rateBitsPerSecond: rate, maxQueuedBytes };

    const arrivals: number[] = [];
    const up = await proxyTo(await serve(sink(arrivals)), options);
    const upStarted = performance.now();
    const ack = await exchange(await connectTo(await portOf(up)), randomBytes(size));
    expect(ack.data.toString()).to.equal(String(size));
    const upSeconds = (arrivals[arrivals.length - 1] - upStarted) / 1000;
    expect((size * 8) / upSeconds, "upload bits per second").to.be.at.most(rate * (1 + RATE_SLACK));

    const down = await proxyTo(await serve(source(randomBytes(size))), options);
    const downStarted = performance.now();
    const received = await exchange(await connectTo(await portOf(down)));
    const downSeconds = (performance.now() - downStarted) / 1000;
    expect(received.data.length).to.equal(size);
    expect((size * 8) / downSeconds, "download bits per second").to.be.at.most(rate * (1 + RATE_SLACK));

    // A socket read brings at most 64 KiB, so the queue can pass its bound by that much once.
    for (const proxy of [up, down]) {
      expect(proxy.stats().peakQueuedBytes).to.be.at.most(maxQueuedBytes + 64 * 1024);
    }
  });

  it("with shareLink, connections share one link per direction", async () => {
    const rate = 16_000_000;
    const proxy = await proxyTo(await serve(source(randomBytes(MiB))), {
      latencyMs: 5,
      rateBitsPerSecond: rate,
      shareLink: true,
    });
    const port = await portOf(proxy);
    const started = performance.now();
    const both = await Promise.all([connectTo(port), connectTo(port)].map(async (c) => exchange(await c)));
    const seconds = (performance.now() - started) / 1000;
    expect(both.map((r) => r.data.length)).to.deep.equal([MiB, MiB]);
    expect((2 * MiB * 8) / seconds, "bits per second over both").to.be.at.most(rate * (1 + RATE_SLACK));
  });

  it("resets a connection mid-transfer when configured: the client sees ECONNRESET and part of the data", async () => {
    const proxy = await proxyTo(await serve(source(randomBytes(MiB))), {
      latencyMs: 5,
      resetProbability: 1,
      resetAfterBytes: [100_000, 100_000],
    });
    const received = await exchange(await connectTo(await portOf(proxy)));
    expect(received.error?.code).to.equal("ECONNRESET");
    expect(received.data.length).to.be.at.most(100_000);
    expect(proxy.stats()).to.deep.include({ resets: 1, bytesFromTarget: 100_000 });
  });

  it("an HTTP download through a connection reset mid-body fails instead of returning a short body", async () => {
    const body = randomBytes(MiB);
    const http = createHttpServer((_req, res) => res.end(body));
    http.on("clientError", () => undefined);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const address = http.address();
    try {
      const proxy = await proxyTo(typeof address === "object" && address ? address.port : 0, {
        latencyMs: 5,
        resetProbability: 1,
        resetAfterBytes: [200_000, 300_000],
      });
      const download = fetch(`http://127.0.0.1:${await portOf(proxy)}/`).then(async (res) => res.arrayBuffer());
      const failure = await download.then(
        (data) => new Error(`got ${data.byteLength} bytes`),
        (err: Error) => err,
      );
      expect(failure.message).to.not.match(/^got /);
      expect(proxy.stats().resets).to.equal(1);
    } finally {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it("resets a seeded share of connections, the same ones for the same seed", async () => {
    const port = await serve(echo());
    const run = async (seed: number): Promise<string[]> => {
      // Every connection moves 2 × 30 kB, so one picked for a reset (after ≤ 50 kB) is reset.
      const proxy = await proxyTo(port, { latencyMs: 1, resetProbability: 0.3, resetAfterBytes: [0, 50_000], seed });
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++) {
        const data = randomBytes(30_000);
        const received = await exchange(await connectTo(await portOf(proxy)), data);
        outcomes.push(received.error ? "reset" : received.data.equals(data) ? "intact" : "corrupt");
      }
      expect(proxy.stats().resets).to.equal(outcomes.filter((o) => o === "reset").length);
      return outcomes;
    };
    const first = await run(11);
    expect(first).to.not.include("corrupt");
    expect(first.filter((o) => o === "reset").length, "resets in 20 at p = 0.3").to.be.within(2, 12);
    expect(await run(11), "same seed").to.deep.equal(first);
  });

  it("stop() closes every client and target socket and is idempotent", async () => {
    const target = echo();
    const proxy = await proxyTo(await serve(target), { latencyMs: 1 });
    const port = await portOf(proxy);
    const clients = await Promise.all([1, 2, 3].map(() => connectTo(port)));
    const closed = clients.map((c) => new Promise<void>((resolve) => c.once("close", () => resolve())));
    for (const client of clients) {
      client.on("error", () => undefined);
      client.write("ping");
      expect((await readBytes(client, 4)).toString()).to.equal("ping");
    }
    expect(proxy.stats().openConnections).to.equal(3);
    await proxy.stop();
    await Promise.all(closed);
    await waitFor("the target's sockets to close", 10_000, async () => (target.sockets.size === 0 ? true : undefined));
    expect(proxy.stats().openConnections).to.equal(0);
    const refused = await connectTo(port).catch((err: NodeJS.ErrnoException) => err);
    expect((refused as NodeJS.ErrnoException).code).to.equal("ECONNREFUSED");
    await proxy.stop();
  });

  it("closes the client's connection when the target cannot be reached", async () => {
    const proxy = await proxyTo(await freePort(), { latencyMs: 1 });
    const received = await exchange(await connectTo(await portOf(proxy)), Buffer.from("hello"));
    expect(received.data.length).to.equal(0);
    expect(proxy.stats().targetErrors).to.equal(1);
  });

  it("wrapUrl puts one proxy in front of each endpoint and keeps the rest of the URL", async () => {
    const http = createHttpServer((req, res) => res.end(`path ${req.url}`));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const address = http.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const otherPort = await serve(echo());
    const wan = new WanProxies({ latencyMs: 20, resetProbability: 0 });
    proxies.push(wan);
    try {
      const withPath = await wan.wrapUrl(`http://127.0.0.1:${port}/a/b?c=1`);
      const bare = await wan.wrapUrl(`http://127.0.0.1:${port}`);
      const proxyPort = Number(new URL(bare).port);
      expect(proxyPort).to.not.equal(port);
      expect(bare).to.equal(`http://127.0.0.1:${proxyPort}`);
      expect(withPath).to.equal(`http://127.0.0.1:${proxyPort}/a/b?c=1`);
      const other = await wan.wrapUrl(`http://127.0.0.1:${otherPort}/`);
      expect(other).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(Number(new URL(other).port)).to.not.equal(proxyPort);

      const started = performance.now();
      const res = await fetch(withPath);
      expect(await res.text()).to.equal("path /a/b?c=1");
      expect(performance.now() - started, "a round trip through the proxy").to.be.at.least(40);
      expect(Object.keys(wan.stats()).sort()).to.deep.equal([`127.0.0.1:${otherPort}`, `127.0.0.1:${port}`].sort());
      expect(wan.stats()[`127.0.0.1:${port}`].connections).to.be.at.least(1);
    } finally {
      await wan.stop();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
