import { expect } from "chai";
import { Readable } from "node:stream";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { silentLogger } from "../../../actors-ts/core/logger";
import { closeServer, createHttpServer } from "../../../actors-ts/core/http-server";

/** Resolves to "closed", or "timed out" after `ms` (a bound, not a speed figure). */
async function within(promise: Promise<void>, ms: number): Promise<"closed" | "timed out"> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<"timed out">((resolve) => (timer = setTimeout(() => resolve("timed out"), ms)));
  try {
    return await Promise.race([promise.then(() => "closed" as const), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A daemon stops even while a client that stopped reading holds a response open (the provider
 * daemons of the sub-chunk tests took about a minute to stop after a corrupt-reads retrieval).
 */
describe("closeServer: a stalled response does not hold a daemon's stop", function () {
  this.timeout(60_000);

  it("cuts a response its client stopped reading once the grace is over; app.close() alone would still wait", async () => {
    const app = createHttpServer({ logger: silentLogger, config: { maxJsonBodyBytes: 1024 } });
    // An endless body: only a reader (or a cut) ends it.
    app.get("/endless", async (_request, reply) =>
      reply.type("application/octet-stream").send(
        new Readable({
          read() {
            this.push(Buffer.alloc(64 * 1024, 7));
          },
        }),
      ),
    );
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const response = await request(`http://127.0.0.1:${port}/endless`);
    expect(response.statusCode).to.equal(200);
    // The client reads nothing more: the server's writes back up and its response never ends.
    const plainClose = app.close();
    expect(await within(plainClose, 1500)).to.equal("timed out");
    expect(await within(closeServer(app, 100), 30_000)).to.equal("closed");
    await plainClose;
    await response.body.destroy();
  });

  it("lets a short response in flight finish within the grace", async () => {
    const app = createHttpServer({ logger: silentLogger, config: { maxJsonBodyBytes: 1024 } });
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    app.get("/slow", async () => {
      arrived();
      await gate;
      return { ok: true };
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const pending = request(`http://127.0.0.1:${port}/slow`);
    await reached; // the request is in flight when the close begins
    const closing = closeServer(app, 20_000);
    release();
    const response = await pending;
    expect(await response.body.json()).to.deep.equal({ ok: true });
    expect(await within(closing, 20_000)).to.equal("closed");
  });
});
