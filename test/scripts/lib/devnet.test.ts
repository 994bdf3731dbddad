import { expect } from "chai";
import { createServer, type Server, type Socket } from "node:net";
import { startDevnet } from "../../helpers/devnet";

describe("startDevnet", function () {
  this.timeout(180_000);
  let holder: Server | undefined;
  const sockets = new Set<Socket>();

  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    holder = undefined;
  });

  it("on a port someone else holds, the node's EADDRINUSE is the error (what a free-port start retries on)", async () => {
    // Accepts connections and never answers: the node cannot listen, and the readiness probe
    // must not wait on this server for ever.
    holder = createServer((s) => sockets.add(s));
    const port = await new Promise<number>((resolve) =>
      holder?.listen(0, "127.0.0.1", () => resolve((holder?.address() as { port: number }).port)),
    );
    const err = await startDevnet([], {}, port).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.include("EADDRINUSE");
    expect(err?.message).to.include("exited early");
  });
});
