import { expect } from "chai";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, type Hex } from "viem";
import { startDevnet, type Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import { startTcpRelay, type TcpRelay } from "../helpers/tcp-relay";
import { waitFor } from "../helpers/wait";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { HEALTH_PATH, healthResponseSchema, type HealthResponse } from "../../actors-ts/protocol/health-api";

// Issue "Real chains and real networks": a devnet restarted empty under running daemons (same
// port, same accounts and contract addresses, nothing deployed) went unnoticed. Now every daemon
// knows its chain by the deployment's block hash: it halts (health 503 naming the reset, no
// transactions, one log line), and refuses to start on the reset chain with a message that points
// the right way. An RPC outage is a 503 `rpcReachable: false`, and heals by itself.

const PROVIDER = 2;
const MINER = 12;
/** The daemons check their chain this often, ms. */
const CHECK_MS = "500";
/** What a daemon logs once when it halts. */
const HALT_LINE = "halted, no transactions, proofs or repairs until this is fixed";

/** `/healthz` of a daemon: the HTTP status and the body, parsed with the one shared schema. */
async function health(daemon: DaemonProcess): Promise<{ status: number; body: HealthResponse }> {
  const response = await fetch(daemon.url + HEALTH_PATH);
  return { status: response.status, body: healthResponseSchema.parse(await response.json()) };
}

/** How many times `text` occurs in the daemon's output. */
function count(daemon: DaemonProcess, text: string): number {
  return daemon.output().split(text).length - 1;
}

describe("integration: a chain reset under running daemons", function () {
  this.timeout(300_000);
  superviseSuiteProcesses();
  let devnet: Devnet;
  let relay: TcpRelay;
  let dir: string;
  let deployment: Deployment;
  let deployBlockHash: Hex;
  let provider: DaemonProcess;
  let miner: DaemonProcess;
  const daemons = (): DaemonProcess[] => [provider, miner];

  // The provider's deployment file names the deploy block's hash; the miner's does not (files
  // written before the field), so the miner records the hash in its own data dir on first start.
  const providerArgs = (): string[] => [
    ...["--port", "0", "--data-dir", join(dir, "provider"), "--key", devKey(PROVIDER), "--rpc", relay.url],
    ...["--deployment", join(dir, "deployments-with-hash"), "--chain-check-interval-ms", CHECK_MS],
    ...["--prove-interval-ms", "500", "--publish-interval-ms", "500", "--settle-interval-ms", "1000"],
    ...["--scrub-interval-ms", "1000", "--redeem-interval-ms", "1000"],
  ];
  const minerArgs = (): string[] => [
    ...["--port", "0", "--data-dir", join(dir, "miner"), "--key", devKey(MINER), "--rpc", relay.url],
    ...["--deployment", join(dir, "deployments-without-hash"), "--chain-check-interval-ms", CHECK_MS],
    ...["--watch-interval-ms", "500", "--work-interval-ms", "200", "--settle-interval-ms", "1000"],
  ];
  const diagnostics = (): string =>
    daemons()
      .map((d) => d.output())
      .join("\n");
  const chain = () => createPublicClient({ transport: http(devnet.rpcUrl) });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-chain-reset-"));
    // A block per transaction and none otherwise: the test mines the blocks it observes over.
    devnet = await startDevnet();
    relay = await startTcpRelay(devnet.port);
    deployment = await deployTo(devnet, join(dir, "deployments"));
    await fundTokens(devnet, deployment, [devAddress(PROVIDER), devAddress(MINER)], 10n ** 24n);
    const block = await chain().getBlock({ blockNumber: BigInt(deployment.deployBlock) });
    deployBlockHash = block.hash;
    // The provider's deployment file names the deploy block's hash; the miner's (a file written
    // before deployments recorded it) does not, so the miner anchors to what its data dir records.
    const file = JSON.parse(await readFile(join(dir, "deployments", "31337.json"), "utf8")) as Deployment;
    await mkdir(join(dir, "deployments-with-hash"));
    await writeFile(join(dir, "deployments-with-hash", "31337.json"), JSON.stringify({ ...file, deployBlockHash }));
    await mkdir(join(dir, "deployments-without-hash"));
    await writeFile(
      join(dir, "deployments-without-hash", "31337.json"),
      JSON.stringify({ ...file, deployBlockHash: undefined }),
    );
    [provider, miner] = await Promise.all([
      startDaemon("provider", providerArgs()),
      startDaemon("repair", minerArgs()),
    ]);
  });

  after(async () => {
    await Promise.all(daemons().map((d) => d?.stop()));
    await relay?.close();
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("both daemons answer /healthz 200 in one shape: chain, deployment and every loop's last success", async () => {
    const [p, m] = await Promise.all(
      daemons().map((d) =>
        waitFor(
          "/healthz ok with every loop past its first round",
          60_000,
          async () => {
            const h = await health(d);
            const loops = Object.values(h.body.loops);
            return h.status === 200 && loops.length > 0 && loops.every((l) => l.lastSuccessAt !== null) ? h : undefined;
          },
          diagnostics,
        ),
      ),
    );
    expect(p.body.role).to.equal("provider");
    expect(m.body.role).to.equal("repair-miner");
    expect(m.body.minerId).to.match(/^[1-9]\d*$/);
    expect(Object.keys(p.body).sort()).to.deep.equal(
      Object.keys(m.body)
        .filter((k) => k !== "minerId")
        .sort(),
    );
    for (const { body } of [p, m]) {
      expect(body.ok).to.equal(true);
      expect(body.chain).to.deep.include({ chainId: 31337, rpcReachable: true });
      expect(body.chain.deployment).to.deep.include({ block: String(deployment.deployBlock), present: true });
      expect(body.chain.deployment?.hash).to.equal(deployBlockHash);
    }
    expect(p.body.chain.deployment?.hashFrom).to.equal("deployment file");
    expect(m.body.chain.deployment?.hashFrom).to.equal("data dir");
    expect(Object.keys(p.body.loops).sort()).to.deep.equal(
      ["chain", "prover", "publisher", "redeemer", "scrubber", "settler"].sort(),
    );
    expect(Object.keys(m.body.loops)).to.include.members(["chain", "watcher", "placer", "repairer", "settler", "ask"]);
  });

  it("an RPC outage: /healthz is 503 rpcReachable false (not 500), one warning, and 200 again once it answers", async () => {
    await relay.cut();
    const down = await Promise.all(
      daemons().map((d) =>
        waitFor("/healthz to report the endpoint down", 60_000, async () => {
          const h = await health(d);
          return h.status === 503 && !h.body.chain.rpcReachable ? h.body : undefined;
        }),
      ),
    );
    for (const body of down) {
      expect(body.ok).to.equal(false);
      expect(body.reason).to.match(/JSON-RPC endpoint http:\/\/127\.0\.0\.1:\d+ does not answer/);
      expect(body.halted).to.equal(undefined);
      expect(body.chain.deployment?.present).to.equal(true);
    }
    await relay.restore();
    await Promise.all(
      daemons().map((d) =>
        waitFor("/healthz 200 again", 60_000, async () => ((await health(d)).status === 200 ? true : undefined)),
      ),
    );
    for (const d of daemons()) {
      expect(count(d, "JSON-RPC endpoint does not answer"), d.output()).to.equal(1);
      expect(count(d, "JSON-RPC endpoint answers again")).to.equal(1);
    }
  });

  it("a devnet restarted empty on the same port: both halt, say why once, and send nothing", async () => {
    const port = devnet.port;
    await devnet.stop();
    devnet = await startDevnet([], {}, port);
    const halted = await Promise.all(
      daemons().map((d) =>
        waitFor(
          "/healthz to report the reset",
          60_000,
          async () => {
            const h = await health(d);
            return h.status === 503 && h.body.halted ? h.body : undefined;
          },
          diagnostics,
        ),
      ),
    );
    const named = `no longer has the deployment from block ${deployment.deployBlock} (hash ${deployBlockHash})`;
    for (const body of halted) {
      expect(body.halted?.reason).to.include(named);
      expect(body.halted?.reason).to.include("new --data-dir");
      expect(body.reason).to.include(named);
      expect(body.chain.deployment?.present).to.equal(false);
      expect(body.chain.rpcReachable).to.equal(true);
    }
    // The observation window, in blocks: the reset chain mines past the deployment's block and the
    // daemons' checkpoints, each daemon checking its chain again after every step.
    const target = BigInt(deployment.deployBlock) + 30n;
    while ((await chain().getBlockNumber()) < target) {
      const seen = await Promise.all(daemons().map(async (d) => (await health(d)).body.loops.chain?.lastSuccessAt));
      await chain().request({ method: "hardhat_mine" as never, params: ["0x5"] as never });
      await Promise.all(
        daemons().map((d, i) =>
          waitFor("another chain check", 30_000, async () =>
            (await health(d)).body.loops.chain?.lastSuccessAt !== seen[i] ? true : undefined,
          ),
        ),
      );
    }
    for (const d of daemons()) {
      const { status, body } = await health(d);
      expect(status).to.equal(503);
      expect(body.halted?.reason).to.include(named);
      const skipped = Object.entries(body.loops).filter(([name, l]) => name !== "chain" && l.skippedRounds > 0);
      expect(skipped.length, "loops skip their rounds while halted").to.be.greaterThan(0);
      expect(count(d, HALT_LINE), "one log line for the reset").to.equal(1);
    }
    for (const account of [devAddress(PROVIDER), devAddress(MINER)]) {
      expect(await chain().getTransactionCount({ address: account })).to.equal(0);
      expect(await chain().getTransactionCount({ address: account, blockTag: "pending" })).to.equal(0);
    }
    // A request that would act is refused with the reason; `repair status` leads with it.
    const proposal = await fetch(provider.url + "/deals/proposals", { method: "POST", body: "{}" });
    expect(proposal.status).to.equal(503);
    expect(((await proposal.json()) as { error: string }).error).to.equal("ChainHalted");
    const status = await runCli(["repair", "status", "--url", miner.url]);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(/^HALTED since \S+: the chain at http:\/\/127\.0\.0\.1:\d+ no longer has/);
    expect(status.stdout).to.include("escrow not read: the miner is halted");
  });

  it("restarted against the reset chain, the miner and the provider refuse to start and say it was reset", async () => {
    await Promise.all(daemons().map((d) => d.stop()));
    const refusal = (start: Promise<DaemonProcess>): Promise<string> =>
      start.then(
        async (d) => {
          await d.stop();
          return "started";
        },
        (err: Error) => err.message,
      );
    const [minerRefusal, providerRefusal] = await Promise.all([
      refusal(startDaemon("repair", minerArgs())),
      refusal(startDaemon("provider", providerArgs())),
    ]);
    for (const message of [minerRefusal, providerRefusal]) {
      expect(message).to.match(/exited with 1 before starting/);
      expect(message).to.include(`the chain at ${relay.url} no longer has the deployment from block`);
      expect(message).to.include(`(hash ${deployBlockHash})`);
      expect(message).to.include("it was reset");
      expect(message).to.include("start the agents with a new --data-dir");
      expect(message).to.not.include("NotMinerOwner");
    }
    expect(await chain().getTransactionCount({ address: devAddress(MINER), blockTag: "pending" })).to.equal(0);
  });
});
