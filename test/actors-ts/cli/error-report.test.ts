import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyArgsToEnv, runCli } from "../../helpers/agents";
import { freePort, runNode } from "../../helpers/devnet";

const KEY = `0x${"11".repeat(32)}`;
const CLI = join(__dirname, "..", "..", "..", "bin", "repair-market.cjs");

/** stderr as lines, without the trailing newline. */
function lines(stderr: string): string[] {
  return stderr.replace(/\n$/, "").split("\n");
}

/** The `{ ok: false, error }` document a failed command prints on stdout with --json. */
function jsonError(stdout: string): { name: string; message: string; details?: Record<string, unknown> } {
  const body = JSON.parse(stdout) as { ok: boolean; error: { name: string; message: string } };
  expect(body.ok).to.equal(false);
  return body.error;
}

describe("cli/error-report: every CLI error is one line, details only with --verbose", function () {
  this.timeout(180_000);
  let dir: string;
  /** An RPC URL nothing listens on (a free port), so a command that got as far as connecting would say so. */
  let closedRpc: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-cli-errors-"));
    closedRpc = `http://127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const client = (...args: string[]): string[] => [
    "client",
    ...args,
    ...["--data-dir", join(dir, "client"), "--deployment", join(dir, "deployments")],
  ];

  it("an unreachable RPC names the URL, the call, the reason and the fix; --verbose adds viem's dump; --json the object", async () => {
    const line = `error: cannot reach the chain at ${closedRpc} (eth_chainId): connection refused — is the node running? (--rpc, $RM_RPC_URL)`;
    const plain = await runCli([...client("deals"), "--key", KEY, "--rpc", closedRpc], {}, 60_000);
    expect(plain.code).to.equal(1);
    expect(lines(plain.stderr)).to.deep.equal([line]);

    const verbose = await runCli([...client("deals"), "--key", KEY, "--rpc", closedRpc, "--verbose"], {}, 60_000);
    expect(verbose.code).to.equal(1);
    const detail = lines(verbose.stderr);
    expect(detail[0]).to.equal(line);
    expect(detail.slice(1).join("\n")).to.include("cause: HttpRequestError: HTTP request failed.");
    expect(detail.slice(1).join("\n")).to.include('Request body: {"method":"eth_chainId"}');
    expect(detail.slice(1).join("\n")).to.match(/ECONNREFUSED|connect/);
    expect(detail).to.include("  stack:");

    const json = await runCli([...client("deals"), "--key", KEY, "--rpc", closedRpc, "--json"], {}, 60_000);
    expect(json.code).to.equal(1);
    expect(json.stderr).to.equal("");
    const error = jsonError(json.stdout);
    expect(error.name).to.equal("RpcUnavailableError");
    expect(error.message).to.equal(line.slice("error: ".length));
    expect(error.details).to.deep.equal({ rpcUrl: closedRpc, method: "eth_chainId" });
  });

  it("a port fetch never connects to (1) is named as such, not as a dead node", async () => {
    const r = await runCli([...client("deals"), "--key", KEY, "--rpc", "http://127.0.0.1:1"], {}, 60_000);
    expect(r.code).to.equal(1);
    expect(lines(r.stderr)).to.deep.equal([
      "error: cannot reach the chain at http://127.0.0.1:1 (eth_chainId): fetch refuses port 1 (a blocked port) — use another port (--rpc, $RM_RPC_URL)",
    ]);
  });

  it("client store of a missing file or a directory is one line naming the argument, before anything connects", async () => {
    const missing = join(dir, "nonexistent.bin");
    const store = (file: string, ...more: string[]) =>
      runCli(
        [...client("store", file), "--provider", `0x${"22".repeat(20)}`, "--key", KEY, "--rpc", closedRpc, ...more],
        {},
        60_000,
      );
    const gone = await store(missing);
    expect(gone.code).to.equal(1);
    expect(lines(gone.stderr)).to.deep.equal([`error: file not found: ${missing} (client store FILE)`]);
    const folder = await store(dir);
    expect(folder.code).to.equal(1);
    expect(lines(folder.stderr)).to.deep.equal([`error: ${dir} is a directory, expected a file (client store FILE)`]);

    const verbose = await store(missing, "--verbose");
    const detail = lines(verbose.stderr);
    expect(detail[0]).to.equal(`error: file not found: ${missing} (client store FILE)`);
    expect(detail.slice(1)).to.include.members(["  InvalidArgumentError", `    path: ${missing}`]);

    const json = await store(missing, "--json");
    expect(json.code).to.equal(1);
    const error = jsonError(json.stdout);
    expect(error).to.include({
      name: "InvalidArgumentError",
      message: `file not found: ${missing} (client store FILE)`,
    });
    expect(error.details).to.deep.equal({ path: missing });
  });

  it("an output path in a missing directory, or a directory, is refused before the retrieval starts", async () => {
    const droot = `0x${"ab".repeat(32)}`;
    const out = join(dir, "no-such-dir", "file.bin");
    const r = await runCli([...client("retrieve", droot), "--out", out, "--key", KEY, "--rpc", closedRpc], {}, 60_000);
    expect(r.code).to.equal(1);
    expect(lines(r.stderr)).to.deep.equal([
      `error: directory not found: ${join(dir, "no-such-dir")} (--out ${out}) — create the directory first`,
    ]);
    const onDir = await runCli(
      [...client("retrieve", droot), "--out", dir, "--key", KEY, "--rpc", closedRpc],
      {},
      60_000,
    );
    expect(lines(onDir.stderr)).to.deep.equal([`error: ${dir} is a directory, expected a file (--out)`]);
  });

  it("--config naming a missing file is one line naming the option", async () => {
    const missing = join(dir, "provider.json");
    const r = await runCli(["provider", "start", "--port", "0", "--config", missing, "--key", KEY], {}, 60_000);
    expect(r.code).to.equal(1);
    expect(lines(r.stderr)).to.deep.equal([`error: file not found: ${missing} (--config)`]);
  });

  it("key errors name where the key came from and never print the key", async () => {
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      runNode([CLI, ...client("deals"), "--rpc", closedRpc, ...args], { env, timeoutMs: 60_000 });
    const missing = join(dir, "missing.key");
    const gone = await run(["--key", missing]);
    expect(lines(gone.stderr)).to.deep.equal([
      `error: key file not found: ${missing} (--key) — give a file holding a 0x-prefixed 32-byte hex key`,
    ]);
    const folder = await run(["--key-file", dir]);
    expect(lines(folder.stderr)).to.deep.equal([`error: ${dir} is a directory, expected a key file (--key-file)`]);

    const badFile = join(dir, "bad.key");
    await writeFile(badFile, "0xdeadbeef-not-a-key\n", { mode: 0o600 });
    const bad = await run(["--key-file", badFile]);
    expect(lines(bad.stderr)).to.deep.equal([
      `error: the key file ${badFile} (--key-file) does not hold a 0x-prefixed 32-byte hex key — a key is 0x and 64 hex digits`,
    ]);
    expect(bad.stderr).to.not.include("deadbeef");

    const short = await run(["--key", "0x1234abcd"], { RM_PRIVATE_KEY: "" });
    expect(lines(short.stderr)).to.deep.equal([
      "error: --key does not hold a 0x-prefixed 32-byte hex key — a key is 0x and 64 hex digits",
    ]);
    const fromEnv = await run([], { RM_PRIVATE_KEY: "0x1234abcd" });
    expect(lines(fromEnv.stderr)).to.deep.equal([
      "error: $RM_PRIVATE_KEY does not hold a 0x-prefixed 32-byte hex key — a key is 0x and 64 hex digits",
    ]);
    for (const r of [short, fromEnv]) expect(r.stderr + r.stdout).to.not.include("1234abcd");

    const both = await run(["--key-file", badFile, "--key", KEY]);
    expect(both.code).to.equal(1);
    expect(lines(both.stderr)).to.deep.equal([
      "error: option '--key-file <path>' cannot be used with option '--key <hex-or-file>'",
    ]);
  });

  it("a good --key-file gets the command as far as the chain (the key was read from the file)", async () => {
    const keyFile = join(dir, "good.key");
    await writeFile(keyFile, `${KEY}\n`, { mode: 0o600 });
    const r = await runNode([CLI, ...client("deals"), "--rpc", closedRpc, "--key-file", keyFile], {
      env: { RM_PRIVATE_KEY: "" },
      timeoutMs: 60_000,
    });
    expect(r.code).to.equal(1);
    expect(lines(r.stderr)).to.have.length(1);
    expect(r.stderr).to.match(/^error: cannot reach the chain at /);
  });
});

describe("helpers/agents keyArgsToEnv: test and demo children get their key through the environment", () => {
  it("moves a hex --key (either spelling) into RM_PRIVATE_KEY and keeps a key file path", () => {
    const moved = keyArgsToEnv(["client", "deals", "--key", KEY, "--rpc", "http://x"], { LOG_LEVEL: "warn" });
    expect(moved.args).to.deep.equal(["client", "deals", "--rpc", "http://x"]);
    expect(moved.env).to.deep.equal({ LOG_LEVEL: "warn", RM_PRIVATE_KEY: KEY });
    expect(keyArgsToEnv([`--key=${KEY}`], { RM_PRIVATE_KEY: "0xold" })).to.deep.equal({
      args: [],
      env: { RM_PRIVATE_KEY: KEY },
    });
    expect(keyArgsToEnv(["--key", "/keys/a.key"], {})).to.deep.equal({ args: ["--key", "/keys/a.key"], env: {} });
  });
});
