import { expect } from "chai";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpRequestError, createPublicClient } from "viem";
import {
  DEFAULT_RPC_RETRY_POLICY,
  RpcUnavailableError,
  backoffMs,
  rpcTransport,
} from "../../../actors-ts/chain/rpc-transport";

/** What the fake endpoint does with the next request. */
type Fault = "ok" | "503" | "429" | "drop" | "hang" | "revert" | "range";

/**
 * A real JSON-RPC server on 127.0.0.1 that answers eth_chainId / eth_blockNumber itself and fails
 * the requests `faults` lists, in order (then answers normally). It counts every request.
 */
async function faultyEndpoint(
  faults: Fault[],
): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      requests++;
      const call = JSON.parse(body) as { id: number; method: string };
      const fault = faults.shift() ?? "ok";
      const json = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(payload));
      };
      if (fault === "drop") return void req.socket.destroy();
      if (fault === "hang") return; // never answers: the client's timeout must fire
      if (fault === "503") return json(503, { jsonrpc: "2.0", id: call.id, error: { code: -32000, message: "busy" } });
      if (fault === "429") {
        return json(
          429,
          { jsonrpc: "2.0", id: call.id, error: { code: 429, message: "rate" } },
          { "retry-after": "0" },
        );
      }
      if (fault === "revert") {
        return json(200, { jsonrpc: "2.0", id: call.id, error: { code: 3, message: "execution reverted" } });
      }
      if (fault === "range") {
        return json(200, {
          jsonrpc: "2.0",
          id: call.id,
          error: { code: -32005, message: "query exceeds max block range 2000" },
        });
      }
      const result = call.method === "eth_chainId" ? "0x7a69" : "0x2a";
      json(200, { jsonrpc: "2.0", id: call.id, result });
    });
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const FAST = { baseBackoffMs: 5, maxBackoffMs: 20, timeoutMs: 5_000 };

describe("chain/rpc-transport: timeouts, retries with jittered backoff, errors naming endpoint and method", () => {
  it("rides out 503s, 429s and dropped connections and returns the answer", async () => {
    const endpoint = await faultyEndpoint(["503", "drop", "429", "503"]);
    try {
      const client = createPublicClient({ transport: rpcTransport(endpoint.url, { ...FAST, retries: 4 }) });
      expect(await client.getBlockNumber()).to.equal(42n);
      expect(endpoint.requests()).to.equal(5);
    } finally {
      await endpoint.close();
    }
  });

  it("times out a request that never gets an answer and sends it again", async () => {
    const endpoint = await faultyEndpoint(["hang", "hang"]);
    try {
      const client = createPublicClient({
        transport: rpcTransport(endpoint.url, { ...FAST, timeoutMs: 300, retries: 3 }),
      });
      expect(await client.getBlockNumber()).to.equal(42n);
      expect(endpoint.requests()).to.equal(3);
    } finally {
      await endpoint.close();
    }
  });

  it("gives up after `retries` with an RpcUnavailableError naming the endpoint, the method and the attempts", async () => {
    const endpoint = await faultyEndpoint(["503", "503", "503", "503"]);
    try {
      const client = createPublicClient({ transport: rpcTransport(endpoint.url, { ...FAST, retries: 2 }) });
      const err = await client.getBlockNumber().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      const cause = findCause(err, (e) => e instanceof RpcUnavailableError) as RpcUnavailableError | undefined;
      expect(cause, String(err)).to.not.equal(undefined);
      expect(cause?.details).to.deep.include({ rpcUrl: endpoint.url, method: "eth_blockNumber", attempts: 3 });
      expect(cause?.shortMessage).to.equal(`eth_blockNumber to ${endpoint.url} failed after 3 attempts (HTTP 503)`);
      expect(endpoint.requests()).to.equal(3);
    } finally {
      await endpoint.close();
    }
  });

  it("does not retry an answer the node would give again: a revert, a refused log range", async () => {
    for (const fault of ["revert", "range"] as const) {
      const endpoint = await faultyEndpoint([fault]);
      try {
        const client = createPublicClient({ transport: rpcTransport(endpoint.url, { ...FAST, retries: 4 }) });
        await client.getBlockNumber().then(
          () => expect.fail(`${fault} was not thrown`),
          () => undefined,
        );
        expect(endpoint.requests(), fault).to.equal(1);
      } finally {
        await endpoint.close();
      }
    }
  });

  it("backs off with full jitter under a doubling ceiling, capped, honouring Retry-After", () => {
    const p = { ...DEFAULT_RPC_RETRY_POLICY, baseBackoffMs: 100, maxBackoffMs: 1_000 };
    expect(backoffMs(p, 1, new Error("x"), () => 0.999)).to.equal(99);
    expect(backoffMs(p, 3, new Error("x"), () => 0.5)).to.equal(200);
    expect(backoffMs(p, 10, new Error("x"), () => 0.999)).to.equal(999);
    expect(backoffMs(p, 4, new Error("x"), () => 0)).to.equal(0);
    const limited = (after: string): HttpRequestError =>
      new HttpRequestError({ url: "http://rpc", status: 429, headers: new Headers({ "retry-after": after }) });
    expect(backoffMs(p, 1, limited("0.5"), () => 0)).to.equal(500);
    expect(backoffMs(p, 1, limited("60"), () => 0)).to.equal(1_000);
  });
});

function findCause(err: unknown, match: (e: unknown) => boolean): unknown {
  for (let e = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (match(e)) return e;
  }
  return undefined;
}
