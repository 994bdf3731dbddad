import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, type Address } from "viem";
import { startDevnet, type Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import { newestDataSetInfo } from "../helpers/data-sets";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { superviseSuiteProcesses } from "../helpers/process-logs";

// The one suite whose chain runs in real time (a block every 500 ms, nobody holding it): a
// provider whose machine is loaded by busy loops must still prove every period it can, because
// the repair miner (rightly) treats a missed period as a fault. The proving round reads a
// period's draws side by side and sends one transaction; here it must land inside a 6 s window
// on every period while two more processes spin on both cores.

const PERIOD = 24; // epochs: 12 s at 500 ms blocks
const WINDOW = 12; // epochs: 6 s to prove after the challenge epoch
const PERIODS_UNDER_LOAD = 5;
const PROVIDER = 2;
const CLIENT = 1;

describe("provider proving on a loaded machine (real-time chain)", function () {
  this.timeout(300_000);
  superviseSuiteProcesses();
  let devnet: Devnet;
  let dir: string;
  let deployment: Deployment;
  let provider: DaemonProcess;
  const busy: ChildProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-prove-load-"));
    devnet = await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: "500", HARDHAT_AUTOMINE: "false" });
    deployment = await deployTo(devnet, join(dir, "deployments"), {
      provingPeriodEpochs: PERIOD,
      challengeWindowEpochs: WINDOW,
    });
    await fundTokens(devnet, deployment, [devAddress(CLIENT), devAddress(PROVIDER)], 10n ** 21n);
    provider = await startDaemon("provider", [
      ...["--port", "0", "--data-dir", join(dir, "provider"), "--key", devKey(PROVIDER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--prove-interval-ms", "500", "--publish-interval-ms", "300"],
      ...["--settle-interval-ms", "600000", "--scrub-interval-ms", "600000", "--redeem-interval-ms", "600000"],
    ]);
  });

  after(async () => {
    for (const b of busy) b.kill("SIGKILL");
    await provider?.stop();
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`proves ${PERIODS_UNDER_LOAD} periods in a row while two busy loops load both cores: no period missed`, async () => {
    await writeFile(join(dir, "file.bin"), randomBytes(2 * 1024 * 1024));
    const stored = await runCli([
      ...["client", "store", join(dir, "file.bin"), "--provider", devAddress(PROVIDER), "--duration", "4000"],
      ...["--key", devKey(CLIENT), "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(stored.code, stored.stderr + stored.stdout).to.equal(0);
    const chain = createPublicClient({ transport: http(devnet.rpcUrl) });
    const info = () => newestDataSetInfo(chain, deployment.contracts.StorageMarket as Address, devAddress(PROVIDER));
    // Proving has started: one period proven on a quiet machine.
    await waitFor("a first proven period", 120_000, async () => ((await info()).provenPeriods > 0 ? true : undefined));
    for (let i = 0; i < 2; i++) busy.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
    const start = await info();
    let worst = 0;
    const done = await waitFor(
      `${PERIODS_UNDER_LOAD} more periods proven under load`,
      240_000,
      async () => {
        const now = await info();
        worst = Math.max(worst, now.consecutiveFaults);
        return now.currentPeriod >= start.currentPeriod + PERIODS_UNDER_LOAD ? now : undefined;
      },
      () => provider.output(),
    );
    for (const b of busy.splice(0)) b.kill("SIGKILL");
    expect(worst, "periods missed in a row while loaded").to.equal(0);
    expect(done.provenPeriods - start.provenPeriods).to.be.at.least(PERIODS_UNDER_LOAD - 1);
    expect(done.consecutiveFaults).to.equal(0);
    expect(provider.output()).to.not.include("a proving period went unproven");
  });
});
