import { expect } from "chai";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployTo, devAddress, devKey, runCli, startDaemon } from "../../helpers/agents";
import { startDevnet, type Devnet } from "../../helpers/devnet";
import type { Deployment } from "../../../actors-ts/chain/deployment";

function lines(stderr: string): string[] {
  return stderr.replace(/\n$/, "").split("\n");
}

describe("cli: errors against a real chain are one line; keys stay off command lines", function () {
  this.timeout(300_000);
  let devnet: Devnet;
  let dir: string;
  let deployment: Deployment;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-cli-chain-"));
    devnet = await startDevnet();
    deployment = await deployTo(devnet, join(dir, "deployments"));
    await writeFile(join(dir, "file.txt"), "hello\n");
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const client = (...args: string[]): string[] => [
    ...["client", ...args, "--key", devKey(1), "--rpc", devnet.rpcUrl],
    ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "client")],
  ];

  it("an invalid address option names the value and the option; --verbose adds viem's rules; --json the object", async () => {
    const args = client("store", join(dir, "file.txt"), "--provider", "0x123");
    const line = 'error: invalid address "0x123" for --provider — an address is 0x and 40 hex digits';
    const plain = await runCli(args);
    expect(plain.code).to.equal(1);
    expect(lines(plain.stderr)).to.deep.equal([line]);
    const verbose = await runCli([...args, "--verbose"]);
    expect(lines(verbose.stderr)[0]).to.equal(line);
    expect(lines(verbose.stderr)).to.include("    - Address must be a hex value of 20 bytes (40 hex characters).");
    const json = await runCli([...args, "--json"]);
    expect(JSON.parse(json.stdout)).to.deep.equal({
      ok: false,
      error: { name: "InvalidAddressError", message: line.slice("error: ".length) },
    });
  });

  it("a contract revert is one line naming the custom error", async () => {
    const r = await runCli([
      ...["client", "cancel-bid", "99", "--key", devKey(1), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments")],
    ]);
    expect(r.code).to.equal(1);
    expect(lines(r.stderr)).to.deep.equal(["error: RepairMarket.cancelBid reverted: BidNotFound(99)"]);
  });

  it("a daemon started by startDaemon with --key has no hex key in /proc/<pid>/cmdline, and runs as that key", async () => {
    const daemon = await startDaemon("provider", [
      ...["--port", "0", "--data-dir", join(dir, "provider"), "--key", devKey(2), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--no-register"],
    ]);
    try {
      const pid = daemon.process.pid ?? 0;
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ");
      expect(cmdline).to.include("provider start");
      expect(cmdline).to.not.match(/0x[0-9a-fA-F]{64}/);
      expect(daemon.address).to.equal(devAddress(2));
    } finally {
      await daemon.stop();
    }
  });

  it("a chain reset under the deployment file: client deals names the missing contract and the likely cause", async () => {
    const before = await runCli(client("deals"));
    expect(before.code, before.stderr).to.equal(0);
    expect(before.stdout).to.equal("no deals\n");
    const res = await fetch(devnet.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hardhat_reset", params: [] }),
    });
    expect(((await res.json()) as { result?: unknown }).result).to.equal(true);
    const line =
      `error: no StorageMarket contract at ${deployment.contracts.StorageMarket} on chain 31337 — ` +
      "the chain was reset or --deployment points at another chain";
    const plain = await runCli(client("deals"));
    expect(plain.code).to.equal(1);
    expect(lines(plain.stderr)).to.deep.equal([line]);
    const verbose = await runCli([...client("deals"), "--verbose"]);
    expect(lines(verbose.stderr)[0]).to.equal(line);
    expect(lines(verbose.stderr)).to.include.members(["  ContractNotDeployedError", "    contract: StorageMarket"]);
    const json = await runCli([...client("deals"), "--json"]);
    const body = JSON.parse(json.stdout) as { ok: boolean; error: { name: string; message: string } };
    expect(body.ok).to.equal(false);
    expect(body.error).to.include({ name: "ContractNotDeployedError", message: line.slice("error: ".length) });
  });
});
