import { expect } from "chai";
import { runCli } from "../../helpers/agents";

const KEY = `0x${"11".repeat(32)}`;

describe("cli/client-retrieve-commands: a target that is not a droot or a PieceCID", () => {
  it("is refused in one line before anything connects (the RPC here is unreachable)", async () => {
    const args = ["client", "retrieve", "not-a-cid", "--out", "/tmp/never-written", "--key", KEY];
    const r = await runCli([...args, "--rpc", "http://127.0.0.1:9"], {}, 60_000);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split("\n")).to.deep.equal([
      'error: "not-a-cid" is neither a droot (0x and 64 hex digits) nor a PieceCID v2 (bafkzcib…)',
    ]);
  });
});
