import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, type Address } from "viem";
import { startDevnet, type Devnet } from "../../helpers/devnet";
import {
  deployTo,
  devAddress,
  devKey,
  fundTokens,
  runCli,
  startDaemon,
  type DaemonProcess,
} from "../../helpers/agents";
import type { Deployment } from "../../../actors-ts/chain/deployment";
import { storageMarketAbi } from "../../../actors-ts/chain/generated/abis";

const TOKENS = 10n ** 21n;

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("provider daemon + client CLI: a direct deal end to end", function () {
  this.timeout(240_000);
  let devnet: Devnet;
  let dir: string;
  let deployment: Deployment;
  let provider: DaemonProcess;
  const clientKey = devKey(1);
  const providerAddress = devAddress(2);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-provider-"));
    devnet = await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: "250" });
    deployment = await deployTo(devnet, join(dir, "deployments"), {
      provingPeriodEpochs: 12,
      challengeWindowEpochs: 4,
    });
    await fundTokens(devnet, deployment, [devAddress(1), providerAddress], TOKENS);
    provider = await startDaemon("provider", [
      "--port",
      "0",
      "--data-dir",
      join(dir, "provider"),
      "--key",
      devKey(2),
      "--rpc",
      devnet.rpcUrl,
      "--deployment",
      join(dir, "deployments"),
      "--prove-interval-ms",
      "200",
      "--publish-interval-ms",
      "300",
      "--settle-interval-ms",
      "1500",
      "--scrub-interval-ms",
      "1000",
    ]);
  });

  after(async () => {
    await provider?.stop();
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores a file, the deal is published, proven for several periods and paid to the provider", async () => {
    const file = join(dir, "hello.bin");
    await writeFile(file, randomBytes(300_000));
    const result = await runCli([
      "client",
      "store",
      file,
      "--provider",
      providerAddress,
      "--duration",
      "200",
      "--start-delay",
      "30",
      "--key",
      clientKey,
      "--rpc",
      devnet.rpcUrl,
      "--deployment",
      join(dir, "deployments"),
      "--data-dir",
      join(dir, "client"),
      "--json",
    ]);
    expect(result.code, result.stderr + result.stdout).to.equal(0);
    const stored = JSON.parse(result.stdout) as { dealId: string; pieceCid: string; txHash: string };
    const dealId = BigInt(stored.dealId);
    expect(dealId).to.be.greaterThan(0n);
    expect(stored.pieceCid).to.match(/^bafkzcib/);

    const chain = createPublicClient({ transport: http(devnet.rpcUrl) });
    const market = deployment.contracts.StorageMarket as Address;
    await waitFor("three proven periods", 120_000, async () => {
      const set = await chain.readContract({
        address: market,
        abi: storageMarketAbi,
        functionName: "proofSetInfo",
        args: [providerAddress],
      });
      return set.provenPeriods >= 3 ? set : undefined;
    });
    const info = await chain.readContract({
      address: market,
      abi: storageMarketAbi,
      functionName: "dealInfo",
      args: [dealId],
    });
    expect(info.state).to.equal(2); // Active
    const payments = await waitFor("a settlement paying the provider", 60_000, async () => {
      const logs = await chain.getContractEvents({
        address: market,
        abi: storageMarketAbi,
        eventName: "DealSettled",
        args: { dealId },
        fromBlock: 0n,
      });
      const paid = logs.reduce((s, l) => s + (l.args.payment ?? 0n), 0n);
      return paid > 0n ? paid : undefined;
    });
    expect(payments).to.be.greaterThan(0n);
  });
});
