/** Small I/O helpers of the network proxies (strict-rpc-proxy.ts, wan-proxy.ts). */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/** The value of a JSON body, or undefined when it does not parse. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Reads a request body whole.
 *
 * @param maxBytes Largest body accepted, in bytes.
 * @returns The body, or undefined as soon as it passes `maxBytes` (the rest is read and discarded).
 * @throws Error when the request fails (the client went away).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        // Discard the rest rather than leave it unread: closing a socket with unread bytes sends
        // an RST, which can destroy the 413 before the client reads it.
        req.off("data", onData);
        req.resume();
        return resolve(undefined);
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/**
 * Answers with a complete body (content-length set); does nothing when the response is already
 * over or its socket gone. `closeAfter` asks the client to close the connection (after a body
 * the server did not read).
 */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  closeAfter = false,
): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    ...(closeAfter ? { connection: "close" } : {}),
  });
  res.end(body);
}

/**
 * Waits at least `ms` milliseconds as `performance.now()` counts them (a timer may fire a little
 * early by that clock, so it re-arms until the time has passed).
 *
 * @throws AbortError when `signal` aborts first.
 */
export async function sleepAtLeast(ms: number, signal: AbortSignal): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) await delay(Math.ceil(until - performance.now()), undefined, { signal });
}

/** `options` without its undefined members, so spreading it over defaults keeps the defaults. */
export function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Closes a socket with an RST; one whose sending side was already shut down can only be closed (libuv refuses the RST). */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}
