import { expect } from "chai";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { freePort } from "../../helpers/devnet";
import { waitFor } from "../../helpers/wait";
import { StrictRpcProxy, type StrictRpcProxyOptions } from "../../../scripts/lib/strict-rpc-proxy";
import { LOOKBACK_REFUSAL_CODE, RANGE_REFUSAL_CODE } from "../../../scripts/lib/json-rpc-limits";

interface RpcRequest {
  jsonrpc: "2.0";
  id?: number | string;
  method: string;
  params?: unknown[];
}

/** A small JSON-RPC upstream: a chain whose head the test sets, recording what reached it. */
class FakeChain {
  head = 10_000n;
  /** Each HTTP request's calls, in arrival order (eth_blockNumber included). */
  readonly received: RpcRequest[][] = [];
  private nextFilter = 1;
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as RpcRequest | RpcRequest[];
      const calls = Array.isArray(body) ? body : [body];
      this.received.push(calls);
      const answers = calls.map((c) => ({ jsonrpc: "2.0", id: c.id, ...this.answer(c) }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(Array.isArray(body) ? answers : answers[0]));
    });
  });
  url = "";

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    return this.url;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Calls that reached the upstream, without the proxy's own eth_blockNumber. */
  forwarded(): RpcRequest[] {
    return this.received.flat().filter((c) => c.method !== "eth_blockNumber");
  }

  private answer(call: RpcRequest): { result: unknown } | { error: { code: number; message: string } } {
    switch (call.method) {
      case "eth_blockNumber":
        return { result: `0x${this.head.toString(16)}` };
      case "eth_chainId":
        return { result: "0x7a69" };
      case "eth_getLogs":
      case "eth_getFilterLogs":
        return { result: [] };
      case "eth_newFilter":
        return { result: `0x${(this.nextFilter++).toString(16)}` };
      case "eth_uninstallFilter":
      case "eth_sendRawTransaction":
        return { result: true };
    }
    return { error: { code: -32601, message: `method ${call.method} not found` } };
  }
}

type Outcome = { status: number; body: unknown; retryAfter: string | null } | { dropped: true };

async function post(url: string, body: unknown): Promise<Outcome> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a plain-text 503 / 502 / 413
    }
    return { status: res.status, body: parsed, retryAfter: res.headers.get("retry-after") };
  } catch {
    return { dropped: true };
  }
}

/** One JSON-RPC response object (as the proxy or the upstream wrote it). */
interface RpcAnswer {
  jsonrpc?: string;
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Posts and expects an HTTP answer (not a dropped connection); `body` is one response object. */
async function answered(
  url: string,
  body: unknown,
): Promise<{ status: number; body: RpcAnswer; retryAfter: string | null }> {
  const outcome = await post(url, body);
  if ("dropped" in outcome) throw new Error(`request ${JSON.stringify(body)} was dropped`);
  return { ...outcome, body: outcome.body as RpcAnswer };
}

/** Posts a batch and expects an HTTP answer whose body is an array of response objects. */
async function answeredBatch(url: string, body: unknown[]): Promise<{ status: number; body: RpcAnswer[] }> {
  const outcome = await post(url, body);
  if ("dropped" in outcome) throw new Error("batch was dropped");
  if (!Array.isArray(outcome.body)) throw new Error(`batch answered ${JSON.stringify(outcome.body)}`);
  return { status: outcome.status, body: outcome.body as RpcAnswer[] };
}

const hex = (n: bigint | number): string => `0x${n.toString(16)}`;
const getLogs = (fromBlock: unknown, toBlock: unknown, id = 1): RpcRequest => ({
  jsonrpc: "2.0",
  id,
  method: "eth_getLogs",
  params: [{ fromBlock, toBlock }],
});

/** No faults, no rate limit, no latency, a fresh head on every check: only the log rules. */
const RULES_ONLY: Omit<StrictRpcProxyOptions, "upstreamUrl"> = {
  failureRate: 0,
  ratePerSecond: Infinity,
  latencyMs: 0,
  headCacheMs: 0,
};

describe("scripts/lib/strict-rpc-proxy: a JSON-RPC endpoint as strict as a public one", function () {
  this.timeout(60_000);
  let chain: FakeChain;
  const proxies: StrictRpcProxy[] = [];

  async function startProxy(options: Omit<StrictRpcProxyOptions, "upstreamUrl">): Promise<string> {
    const proxy = new StrictRpcProxy({ upstreamUrl: chain.url, ...options });
    proxies.push(proxy);
    return (await proxy.start()).url;
  }

  beforeEach(async () => {
    chain = new FakeChain();
    await chain.start();
  });

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.stop()));
    await chain.close();
  });

  it("refuses an eth_getLogs range of 2,001 blocks and forwards one of 2,000", async () => {
    const url = await startProxy(RULES_ONLY);
    const refused = await answered(url, getLogs(hex(8_000), hex(10_000)));
    expect(refused.status).to.equal(200);
    expect(refused.body.error).to.deep.include({
      code: RANGE_REFUSAL_CODE,
      message: "query exceeds max block range 2000",
    });
    expect(refused.body.id).to.equal(1);
    const passed = await answered(url, getLogs(hex(8_001), "latest"));
    expect(passed.body).to.deep.equal({ jsonrpc: "2.0", id: 1, result: [] });
    expect(chain.forwarded().map((c) => c.params)).to.deep.equal([[{ fromBlock: hex(8_001), toBlock: "latest" }]]);
    expect(proxies[0].stats().refused).to.deep.equal({ range: 1, lookback: 0 });
  });

  it("resolves latest, earliest, pending, safe, finalized and an omitted block against the upstream head", async () => {
    const url = await startProxy({ ...RULES_ONLY, maxLookbackBlocks: 1_000_000 });
    chain.head = 1_999n;
    for (const tag of ["latest", "pending", "safe", "finalized", undefined]) {
      const res = await answered(url, getLogs("earliest", tag));
      expect(res.body.result, `earliest..${tag} at head 1999`).to.deep.equal([]);
    }
    chain.head = 2_000n; // earliest..latest now spans 2,001 blocks
    for (const tag of ["latest", "pending", "safe", "finalized", undefined]) {
      const res = await answered(url, getLogs("earliest", tag));
      expect(res.body.error?.code, `earliest..${tag} at head 2000`).to.equal(RANGE_REFUSAL_CODE);
    }
    const fromTag = await answered(url, getLogs("latest", "latest"));
    expect(fromTag.body.result).to.deep.equal([]);
  });

  it("refuses lookbacks past 2,880 blocks in eth_getLogs, eth_newFilter and eth_getFilterLogs", async () => {
    const url = await startProxy(RULES_ONLY);
    chain.head = 10_000n; // (the default; said here because the numbers below depend on it)
    const oldest = 10_000 - 2_880;
    expect((await answered(url, getLogs(hex(oldest), hex(oldest + 10)))).body.result).to.deep.equal([]);
    const refused = await answered(url, getLogs(hex(oldest - 1), hex(oldest + 10)));
    expect(refused.body.error).to.deep.include({
      code: LOOKBACK_REFUSAL_CODE,
      message: "lookbacks older than 2880 epochs are not allowed",
    });
    const newFilter = (fromBlock: number): RpcRequest => ({
      jsonrpc: "2.0",
      id: 2,
      method: "eth_newFilter",
      params: [{ fromBlock: hex(fromBlock), toBlock: hex(fromBlock + 100) }],
    });
    expect((await answered(url, newFilter(oldest - 1))).body.error?.code).to.equal(LOOKBACK_REFUSAL_CODE);
    const filterId = (await answered(url, newFilter(9_000))).body.result;
    const filterLogs = { jsonrpc: "2.0", id: 3, method: "eth_getFilterLogs", params: [filterId] };
    expect((await answered(url, filterLogs)).body.result).to.deep.equal([]);
    chain.head = 9_000n + 2_881n; // the filter's fromBlock has fallen out of the window
    expect((await answered(url, filterLogs)).body.error?.code).to.equal(LOOKBACK_REFUSAL_CODE);
    await answered(url, { jsonrpc: "2.0", id: 4, method: "eth_uninstallFilter", params: [filterId] });
    expect(
      (await answered(url, filterLogs)).body.result,
      "a forgotten filter is the upstream's to answer",
    ).to.deep.equal([]);
    expect(proxies[0].stats().refused).to.deep.equal({ range: 0, lookback: 3 });
  });

  it("lets a blockHash filter through: it names a single block", async () => {
    const url = await startProxy(RULES_ONLY);
    const blockHash = `0x${"ab".repeat(32)}`;
    const res = await answered(url, { jsonrpc: "2.0", id: 1, method: "eth_getLogs", params: [{ blockHash }] });
    expect(res.body.result).to.deep.equal([]);
    expect(chain.forwarded()).to.have.length(1);
  });

  it("checks each entry of a batch, forwards only the passing ones and answers in request order", async () => {
    const url = await startProxy(RULES_ONLY);
    const batch = [
      getLogs(hex(9_000), hex(9_100), 1),
      getLogs(hex(0), hex(5_000), 2),
      { jsonrpc: "2.0", id: 3, method: "eth_chainId", params: [] },
      getLogs(hex(1_000), hex(1_010), 4),
    ];
    const res = await answeredBatch(url, batch);
    expect(res.status).to.equal(200);
    expect(res.body.map((a) => a.id)).to.deep.equal([1, 2, 3, 4]);
    expect(res.body[0].result).to.deep.equal([]);
    expect(res.body[1].error?.code).to.equal(RANGE_REFUSAL_CODE);
    expect(res.body[2].result).to.equal("0x7a69");
    expect(res.body[3].error?.code).to.equal(LOOKBACK_REFUSAL_CODE);
    const batches = chain.received.filter((calls) => calls.some((c) => c.method !== "eth_blockNumber"));
    expect(batches.map((calls) => calls.map((c) => c.id))).to.deep.equal([[1, 3]]);
    expect(proxies[0].stats()).to.deep.include({ requests: 1, calls: 4, forwarded: 2 });
  });

  it("answers 429 with a JSON-RPC error and Retry-After once the burst is spent", async () => {
    // One token per 1,000 s: the burst of 3 is all there is during the test, however slow the machine.
    const url = await startProxy({ ...RULES_ONLY, ratePerSecond: 0.001, burst: 3 });
    const chainId = { jsonrpc: "2.0", id: 7, method: "eth_chainId", params: [] };
    for (let i = 0; i < 3; i++) expect((await answered(url, chainId)).status).to.equal(200);
    const limited = await answered(url, chainId);
    expect(limited.status).to.equal(429);
    expect(limited.body.id).to.equal(7);
    expect(limited.body.error).to.deep.include({ code: -32005, message: "request rate exceeded" });
    expect(Number(limited.retryAfter)).to.be.greaterThan(0);
    const batch = await answeredBatch(url, [chainId, { ...chainId, id: 8 }]);
    expect(batch.status).to.equal(429);
    expect(batch.body.map((e) => e.id)).to.deep.equal([7, 8]);
    expect(proxies[0].stats().rateLimited).to.equal(2);
    expect(chain.forwarded()).to.have.length(3);
  });

  it("refills the bucket at ratePerSecond: a request refused with 429 passes later", async () => {
    const url = await startProxy({ ...RULES_ONLY, ratePerSecond: 2, burst: 1 });
    const chainId = { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] };
    let limited = false;
    for (let i = 0; i < 50 && !limited; i++) limited = (await answered(url, chainId)).status === 429;
    expect(limited, "50 back-to-back requests at 2/s with a burst of 1 hit the limit").to.equal(true);
    await waitFor("a request to pass after the refill", 20_000, async () =>
      (await answered(url, chainId)).status === 200 ? true : undefined,
    );
  });

  it("fails about failureRate of requests, split between 503 and dropped connections, alike for the same seed", async () => {
    const run = async (seed: number, count: number): Promise<string[]> => {
      const url = await startProxy({ ...RULES_ONLY, failureRate: 0.1, seed });
      const outcomes: string[] = [];
      for (let i = 0; i < count; i++) {
        const outcome = await post(url, { jsonrpc: "2.0", id: i, method: "eth_chainId", params: [] });
        outcomes.push("dropped" in outcome ? "dropped" : String(outcome.status));
      }
      return outcomes;
    };
    const outcomes = await run(42, 400);
    const count = (what: string): number => outcomes.filter((o) => o === what).length;
    expect(count("200") + count("503") + count("dropped")).to.equal(400);
    const failed = (count("503") + count("dropped")) / 400;
    expect(failed, "share failed").to.be.within(0.06, 0.14);
    expect(count("503"), "503s").to.be.greaterThan(5);
    expect(count("dropped"), "dropped connections").to.be.greaterThan(5);
    expect(proxies[0].stats()).to.deep.include({ unavailable: count("503"), dropped: count("dropped") });
    expect(chain.forwarded()).to.have.length(count("200"));
    expect(await run(42, 100), "same seed, same failures").to.deep.equal(outcomes.slice(0, 100));
    expect(await run(43, 100), "another seed, other failures").to.not.deep.equal(outcomes.slice(0, 100));
  });

  it("never fails an exempt method on purpose, and fails a batch that is not all exempt", async () => {
    const url = await startProxy({ ...RULES_ONLY, failureRate: 1, exempt: (m) => m === "eth_sendRawTransaction" });
    const send = { jsonrpc: "2.0", id: 1, method: "eth_sendRawTransaction", params: ["0x00"] };
    for (let i = 0; i < 10; i++) expect((await answered(url, send)).body.result).to.equal(true);
    const other = await post(url, { jsonrpc: "2.0", id: 2, method: "eth_chainId", params: [] });
    expect("dropped" in other || other.status === 503, "eth_chainId fails").to.equal(true);
    const mixed = await post(url, [send, { jsonrpc: "2.0", id: 2, method: "eth_chainId", params: [] }]);
    expect("dropped" in mixed || mixed.status === 503, "a mixed batch fails").to.equal(true);
  });

  it("forwards a dropped request first when dropsReachUpstream is set: only the response is lost", async () => {
    const url = await startProxy({ ...RULES_ONLY, failureRate: 1, dropsReachUpstream: true, seed: 3 });
    const outcomes = [];
    for (let i = 0; i < 20; i++) outcomes.push(await post(url, { jsonrpc: "2.0", id: i, method: "eth_chainId" }));
    const dropped = outcomes.filter((o) => "dropped" in o).length;
    expect(dropped).to.be.greaterThan(0);
    expect(chain.forwarded(), "every dropped request reached the upstream").to.have.length(dropped);
  });

  it("adds at least latencyMs to every request", async () => {
    const url = await startProxy({ ...RULES_ONLY, latencyMs: 150, latencyJitterMs: 50 });
    for (let i = 0; i < 4; i++) {
      const started = performance.now();
      await answered(url, { jsonrpc: "2.0", id: i, method: "eth_chainId", params: [] });
      expect(performance.now() - started).to.be.at.least(150);
    }
  });

  it("answers 502 when the upstream is down, 413 for a body over maxBodyBytes and 405 for anything but POST", async () => {
    const down = new StrictRpcProxy({ ...RULES_ONLY, upstreamUrl: `http://127.0.0.1:${await freePort()}` });
    proxies.push(down);
    const { url: downUrl } = await down.start();
    const chainId = await answered(downUrl, { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
    expect(chainId.status).to.equal(502);
    expect(String(chainId.body)).to.match(/upstream http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    const logs = await answered(downUrl, getLogs("latest", "latest"));
    expect(logs.status, "no head to check a log query against").to.equal(502);
    expect(down.stats().upstreamErrors).to.equal(2);

    const url = await startProxy({ ...RULES_ONLY, maxBodyBytes: 1_024 });
    const big = { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: ["x".repeat(4_096)] };
    expect((await answered(url, big)).status).to.equal(413);
    expect((await fetch(url)).status, "a GET").to.equal(405);
    expect(proxies[1].stats().tooLarge).to.equal(1);
    expect(chain.forwarded()).to.have.length(0);
  });

  it("stop() closes open connections and requests in flight, and is idempotent", async () => {
    const proxy = new StrictRpcProxy({ ...RULES_ONLY, upstreamUrl: chain.url, latencyMs: 600_000 });
    const { port, url } = await proxy.start();
    const idle = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => idle.once("connect", resolve).once("error", reject));
    const idleClosed = new Promise<void>((resolve) => idle.once("close", () => resolve()));
    idle.on("error", () => undefined);
    const inFlight = post(url, { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
    await waitFor("the request to reach the proxy", 10_000, async () =>
      proxy.stats().requests === 1 ? true : undefined,
    );
    await proxy.stop();
    await idleClosed;
    expect(await inFlight).to.deep.equal({ dropped: true });
    await proxy.stop();
    let restarted: Error | undefined;
    await proxy.start().catch((err: Error) => (restarted = err));
    expect(restarted?.message).to.match(/stopped/);
    expect(chain.forwarded()).to.have.length(0);
  });
});
