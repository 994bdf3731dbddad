import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { RpcRequestError, keccak256, type Hex } from "viem";
import { rpcTransport, type RpcRetryPolicy } from "../../actors-ts/chain/rpc-transport";

interface JsonRpcCall {
  jsonrpc?: string;
  id?: unknown;
  method: string;
  params?: unknown;
}

/** Largest request body the relay reads, bytes. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * A JSON-RPC relay on 127.0.0.1 in front of an endpoint that fails now and then (a public RPC, a
 * strict proxy): every call is forwarded through {@link rpcTransport}, so a 429, a 5xx or a
 * dropped connection is retried with backoff before the caller sees anything. Tools that do not
 * retry on their own (Hardhat's deploy script over ethers) talk to the relay instead. A raw
 * transaction the endpoint already has ("already known", after a retry of one whose answer was
 * lost) is answered with its hash, as if it had just been accepted.
 */
export class RetryingRpcRelay {
  private server?: Server;
  private readonly request: ReturnType<ReturnType<typeof rpcTransport>>["request"];

  /**
   * @param upstreamUrl The endpoint relayed to.
   * @param policy Overrides of the retry policy (DEFAULT_RPC_RETRY_POLICY).
   */
  constructor(
    readonly upstreamUrl: string,
    policy: Partial<RpcRetryPolicy> = {},
  ) {
    this.request = rpcTransport(upstreamUrl, policy)({}).request;
  }

  /** Listens on a free port of 127.0.0.1; returns the relay's URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Closes the server and its connections (idempotent). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) {
      body += (chunk as Buffer).toString();
      if (body.length > MAX_BODY_BYTES) return void res.writeHead(413).end();
    }
    let parsed: JsonRpcCall | JsonRpcCall[];
    try {
      parsed = JSON.parse(body) as JsonRpcCall | JsonRpcCall[];
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      return void res.end(
        JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }),
      );
    }
    const answer = Array.isArray(parsed) ? await Promise.all(parsed.map((c) => this.call(c))) : await this.call(parsed);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer));
  }

  private async call(c: JsonRpcCall): Promise<Record<string, unknown>> {
    const head = { jsonrpc: "2.0", id: c.id ?? null };
    try {
      return { ...head, result: await this.request({ method: c.method, params: c.params } as never) };
    } catch (err) {
      const rpc = findRpcError(err);
      if (
        c.method === "eth_sendRawTransaction" &&
        /already known|known transaction/i.test(String(rpc?.details ?? (err as Error).message))
      ) {
        return { ...head, result: keccak256((c.params as [Hex])[0]) };
      }
      if (rpc) return { ...head, error: { code: rpc.code, message: rpc.details, data: rpc.data } };
      return { ...head, error: { code: -32603, message: (err as Error).message.split("\n")[0] } };
    }
  }
}

function findRpcError(err: unknown): RpcRequestError | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RpcRequestError) return e;
  }
  return undefined;
}
