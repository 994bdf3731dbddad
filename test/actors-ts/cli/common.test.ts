import { expect } from "chai";
import { runCli } from "../../helpers/agents";

const KEY = `0x${"11".repeat(32)}`;

describe("cli/common: a configuration that does not parse is one clear line", () => {
  it("provider start --port 99999 names the field and the bound, on one line (and as JSON with --json)", async () => {
    const plain = await runCli(["provider", "start", "--port", "99999", "--key", KEY], {}, 60_000);
    expect(plain.code).to.equal(1);
    expect(plain.stderr.trim().split("\n")).to.deep.equal([
      "error: invalid configuration: port: Too big: expected number to be <=65535",
    ]);
    const json = await runCli(["provider", "start", "--port", "99999", "--key", KEY, "--json"], {}, 60_000);
    expect(json.code).to.equal(1);
    const body = JSON.parse(json.stdout) as { ok: boolean; error: { name: string; message: string } };
    expect(body.ok).to.equal(false);
    expect(body.error).to.deep.equal({
      name: "ZodError",
      message: "invalid configuration: port: Too big: expected number to be <=65535",
    });
  });
});
