import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** An upstream's answer, buffered whole (JSON-RPC bodies are small). */
export interface UpstreamResponse {
  /** HTTP status code. */
  status: number;
  /** The upstream's `content-type` (application/json when it gave none). */
  contentType: string;
  body: Buffer;
}

/**
 * POSTs JSON to one upstream URL over keep-alive connections of its own, so that {@link close}
 * can close every socket it opened (a proxy's `stop()` leaves nothing behind).
 */
export class HttpUpstream {
  private readonly url: URL;
  private readonly agent: HttpAgent;

  /**
   * @param url An http: or https: URL (a JSON-RPC endpoint).
   * @param timeoutMs Give up on a request whose socket is idle this long, in milliseconds.
   * @throws TypeError when the URL does not parse; Error when it is neither http: nor https:.
   */
  constructor(
    url: string,
    private readonly timeoutMs: number,
  ) {
    this.url = new URL(url);
    if (this.url.protocol !== "http:" && this.url.protocol !== "https:") {
      throw new Error(`upstream ${url} is not an http: or https: URL`);
    }
    this.agent =
      this.url.protocol === "https:" ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  /**
   * Sends `body` with content-type application/json and buffers the answer, whatever its status.
   *
   * @throws Error naming the upstream when the connection fails, times out or is aborted.
   */
  post(body: Buffer | string, signal: AbortSignal): Promise<UpstreamResponse> {
    const send = this.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => reject(new Error(`upstream ${this.url.origin}: ${err.message}`));
      const req = send(
        this.url,
        {
          method: "POST",
          agent: this.agent,
          signal,
          timeout: this.timeoutMs,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", fail);
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 502,
              contentType: res.headers["content-type"] ?? "application/json",
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", fail);
      req.end(body);
    });
  }

  /**
   * One JSON-RPC call; resolves with its `result`.
   *
   * @throws Error when the upstream fails, answers a non-2xx status or a JSON-RPC error.
   */
  async call(method: string, params: unknown[], signal: AbortSignal): Promise<unknown> {
    const res = await this.post(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }), signal);
    if (res.status < 200 || res.status > 299) {
      throw new Error(`upstream ${this.url.origin}: ${method} answered HTTP ${res.status}`);
    }
    const parsed = JSON.parse(res.body.toString("utf8")) as { result?: unknown; error?: { message?: unknown } };
    if (parsed.error !== undefined) {
      throw new Error(`upstream ${this.url.origin}: ${method} failed: ${String(parsed.error.message)}`);
    }
    return parsed.result;
  }

  /** Closes every connection to the upstream (requests in flight fail). */
  close(): void {
    this.agent.destroy();
  }
}
