import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PeerRejectedError, PeerUnreachableError, httpJson } from "../../../actors-ts/core/http-client";
import { proposalStatusResponseSchema } from "../../../actors-ts/protocol/provider-api";

/**
 * `httpJson` against a real HTTP server on 127.0.0.1: a peer's answer is parsed against the wire
 * schema, and every way it can be wrong is a PeerRejectedError that names the peer, the stage and
 * the field.
 */
describe("http client: validated JSON answers", () => {
  let server: Server;
  let base: string;
  /** What the server answers next: status and raw body. */
  let next: { status: number; body: string } = { status: 200, body: "{}" };

  before(async () => {
    server = createServer((_req, res) => {
      res.writeHead(next.status, { "content-type": "application/json" });
      res.end(next.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const hash = `0x${"ab".repeat(32)}`;
  const context = { peer: "0xProvider", stage: "deal status" };
  const call = () =>
    httpJson({ method: "GET", url: `${base}/deals/proposals/${hash}` }, context, proposalStatusResponseSchema);

  async function rejection(): Promise<PeerRejectedError> {
    try {
      await call();
    } catch (err) {
      expect(err).to.be.instanceOf(PeerRejectedError);
      return err as PeerRejectedError;
    }
    throw new Error("the call did not fail");
  }

  it("returns the parsed answer when it has the protocol's shape", async () => {
    next = { status: 200, body: JSON.stringify({ proposalHash: hash, status: "published", dealId: "7" }) };
    const status = await call();
    expect(status).to.deep.equal({ proposalHash: hash, status: "published", dealId: "7" });
  });

  it("refuses an answer of another shape, naming the field", async () => {
    next = { status: 200, body: JSON.stringify({ proposalHash: hash, status: "published", dealId: 7 }) };
    const err = await rejection();
    expect(err.code).to.equal("InvalidResponse");
    expect(err.message).to.include("deal status: 0xProvider answered an unexpected shape at dealId");
    expect(err.cause).to.not.equal(undefined);
    next = { status: 200, body: JSON.stringify({ proposalHash: hash, status: "lost" }) };
    expect((await rejection()).message).to.include("at status");
    next = { status: 200, body: JSON.stringify({ proposalHash: "0x12", status: "stored" }) };
    expect((await rejection()).message).to.include("at proposalHash");
  });

  it("refuses a body that is not JSON and keeps the parser's error as the cause", async () => {
    next = { status: 200, body: "<html>proxy error</html>" };
    const err = await rejection();
    expect(err.code).to.equal("InvalidJson");
    expect(err.cause).to.be.instanceOf(SyntaxError);
  });

  it("reports a peer's error status with its error code and message", async () => {
    next = { status: 404, body: JSON.stringify({ error: "ProposalNotFound", message: "no such proposal" }) };
    const err = await rejection();
    expect([err.statusCode, err.code]).to.deep.equal([404, "ProposalNotFound"]);
    expect(err.message).to.include("no such proposal");
  });

  it("says which peer and stage could not be reached", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      await httpJson({ method: "GET", url: `http://127.0.0.1:${port}/info` }, context, proposalStatusResponseSchema);
      expect.fail("the call did not fail");
    } catch (err) {
      expect(err).to.be.instanceOf(PeerUnreachableError);
      expect((err as Error).message).to.include("deal status: cannot reach 0xProvider");
    }
  });
});
