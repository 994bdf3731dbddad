import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, getAddress, http, type Address } from "viem";
import { forkDevnet, spawnHardhat, startDevnet, type Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import { ChainPacer, PACED_DEVNET_ENV } from "../helpers/chain-pacer";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { repairMarketAbi } from "../../actors-ts/chain/generated/abis";
import type { RepairDealStatusResponse } from "../../actors-ts/protocol/repair-api";
import { superviseSuiteProcesses } from "../helpers/process-logs";

// Issue "integration tests against a forked chain": real state on a devnet (contracts, providers,
// published and proven storage deals, a repair deal), then `hardhat node --fork` of it with the
// same agents' data dirs pointed at the fork: the fork reads that state, repairs on it, and the
// original devnet does not change. The `npx hardhat rm …` tasks are exercised on both chains.

const PERIOD = 20; // proving period, epochs (500 ms blocks mined by a ChainPacer: about 10 s)
const PROVIDERS = [2, 3, 4, 5, 6, 7, 8];
const MINER = 12;
const CLIENT = 1;

describe("integration: agents against a forked devnet", function () {
  this.timeout(600_000);
  superviseSuiteProcesses();
  let original: Devnet;
  let fork: Devnet | undefined;
  let stale: Devnet | undefined;
  let dir: string;
  let deployment: Deployment;
  /** Mines the chain the agents run on; holds a window's last block for a live provider's proof. */
  let pacer: ChainPacer | undefined;
  /** Every pacer this suite ran (the original's, then the fork's). */
  const pacers: ChainPacer[] = [];
  let dealId: string;
  /** Agents by name ("miner", "provider-N"), on whichever chain they currently run. */
  const agents = new Map<string, DaemonProcess>();

  const client = (rpcUrl: string) => createPublicClient({ transport: http(rpcUrl) });

  function providerArgs(root: string, n: number, rpcUrl: string): string[] {
    return [
      ...["--port", "0", "--data-dir", join(root, `provider-${n}`), "--key", devKey(n), "--rpc", rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--prove-interval-ms", "1000", "--publish-interval-ms", "500"],
      ...["--settle-interval-ms", "60000", "--scrub-interval-ms", "600000", "--redeem-interval-ms", "60000"],
    ];
  }

  function minerArgs(root: string, rpcUrl: string): string[] {
    return [
      ...["--port", "0", "--data-dir", join(root, "miner"), "--key", devKey(MINER), "--rpc", rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--watch-interval-ms", "1000", "--work-interval-ms", "200"],
      ...["--confirmations", "1", "--claim-interval-ms", "60000"],
    ];
  }

  async function startAgents(root: string, rpcUrl: string): Promise<void> {
    const started = await Promise.all(PROVIDERS.map((n) => startDaemon("provider", providerArgs(root, n, rpcUrl))));
    PROVIDERS.forEach((n, i) => agents.set(`provider-${n}`, started[i]));
    agents.set("miner", await startDaemon("repair", minerArgs(root, rpcUrl)));
  }

  async function stopAgents(): Promise<void> {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    agents.clear();
  }

  const miner = () => agents.get("miner") as DaemonProcess;

  async function status(): Promise<RepairDealStatusResponse> {
    return (await (await fetch(`${miner().url}/repair/deals/${dealId}`)).json()) as RepairDealStatusResponse;
  }

  async function holders(rpcUrl: string): Promise<Address[]> {
    const slots = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        client(rpcUrl).readContract({
          address: deployment.contracts.RepairMarket as Address,
          abi: repairMarketAbi,
          functionName: "pieceSlot",
          args: [BigInt(dealId), BigInt(i)],
        }),
      ),
    );
    return slots.map((s) => getAddress(s.provider));
  }

  /** `npx hardhat rm <task> … --json --network localhost` against `rpcUrl`; parsed stdout. */
  async function task<T>(rpcUrl: string, args: string[]): Promise<T> {
    const r = await spawnHardhat(
      ["rm", ...args, "--deployment", join(dir, "deployments"), "--json", "--network", "localhost"],
      { RPC_URL: rpcUrl },
    );
    expect(r.code, `rm ${args.join(" ")}:\n${r.stdout}${r.stderr}`).to.equal(0);
    return JSON.parse(r.stdout) as T;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-fork-"));
    original = await startDevnet([], PACED_DEVNET_ENV);
    pacer = new ChainPacer(original.rpcUrl, { blockMs: 500 });
    pacers.push(pacer);
    pacer.start();
    deployment = await deployTo(
      original,
      join(dir, "deployments"),
      { provingPeriodEpochs: PERIOD, challengeWindowEpochs: 10 },
      { repairWindowEpochs: 400, placementWindowEpochs: 400 },
    );
    await fundTokens(
      original,
      deployment,
      [CLIENT, MINER, ...PROVIDERS].map((n) => devAddress(n)),
      10n ** 24n,
    );
    pacer.setMarket(deployment.contracts.StorageMarket as Address);
    pacer.watch(...PROVIDERS.map((n) => devAddress(n)));
    await startAgents(join(dir, "original"), original.rpcUrl);
    // Real state: a repair-backed file, its six storage deals published, placed and proven.
    await writeFile(join(dir, "file.bin"), randomBytes(2 * 1024 * 1024 + 99));
    const r = await runCli([
      ...["client", "store", join(dir, "file.bin"), "--repair", "--k", "4", "--m", "2"],
      ...["--code", "rs", "--miner", devAddress(MINER)],
      ...["--key", devKey(CLIENT), "--rpc", original.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    dealId = (JSON.parse(r.stdout) as { dealId: string }).dealId;
    await waitFor(
      "every piece placed and proven (the miner drops its copies)",
      180_000,
      async () => {
        const s = await status();
        return s.status === "active" && s.pieces.every((p) => p.state === "assigned" && !p.localCopy)
          ? true
          : undefined;
      },
      () => miner().output(),
    );
  });

  after(async () => {
    await stopAgents();
    await pacer?.stop();
    await fork?.stop();
    await stale?.stop();
    await original?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the rm tasks read and act on the devnet: providers, deals, repair-deal health, settle, claim", async () => {
    const onChain = await holders(original.rpcUrl);
    const provider = PROVIDERS.find((n) => getAddress(devAddress(n)) === onChain[0]) as number;
    // Each task is its own `hardhat` process (seconds to start on a loaded machine); they touch
    // different accounts, so they run side by side.
    const [providers, deals, shown, settled, claimed, bad] = await Promise.all([
      task<{ address: string }[]>(original.rpcUrl, ["providers"]),
      task<{ dealId: string; provider: string; state: string }[]>(original.rpcUrl, [
        "deals",
        "--client",
        devAddress(MINER),
      ]),
      task<{ state: string; healthyPieces: number; pieces: { provider: string; storageDealState: string }[] }>(
        original.rpcUrl,
        ["repair-deal", "--id", dealId],
      ),
      // Settlement pays the provider for proven epochs; claiming pays the miner for the deal.
      task<{ dealId: string; payment: string }[]>(original.rpcUrl, ["settle", "--account", String(provider)]),
      task<{ dealId: string; claimed: string }[]>(original.rpcUrl, ["claim", "--account", String(MINER)]),
      // A malformed argument is refused with the reason, not a stack of viem internals.
      spawnHardhat(
        [
          ...["rm", "bid", "--droot", "0x12", "--piece-size", "1024"],
          ...["--deployment", join(dir, "deployments"), "--network", "localhost"],
        ],
        { RPC_URL: original.rpcUrl },
      ),
    ]);
    expect(providers.map((p) => getAddress(p.address)).sort()).to.deep.equal(
      PROVIDERS.map((n) => getAddress(devAddress(n))).sort(),
    );
    expect(deals.length).to.equal(6);
    expect(shown.state).to.equal("Active");
    expect(shown.healthyPieces).to.equal(6);
    expect(shown.pieces.map((p) => getAddress(p.provider))).to.deep.equal(onChain);
    expect(settled.length).to.be.greaterThan(0);
    expect(claimed.map((c) => c.dealId)).to.deep.equal([dealId]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr + bad.stdout).to.include("--droot must be 32 bytes of hex");
  });

  it("a fork of the devnet: its state is read, a repair happens on it, and the original is untouched", async () => {
    // Hand the agents over: stop them, freeze the original (no more blocks), fork it, and start
    // the same agents, from copies of their data dirs, against the fork.
    await stopAgents();
    await pacer?.stop();
    const frozenAt = await client(original.rpcUrl).getBlockNumber();
    const before = await holders(original.rpcUrl);
    const forked = await forkDevnet(original.rpcUrl, PACED_DEVNET_ENV);
    fork = forked;
    expect(forked.forkBlock).to.equal(frozenAt);
    pacer = new ChainPacer(fork.rpcUrl, { blockMs: 500 });
    pacers.push(pacer);
    pacer.setMarket(deployment.contracts.StorageMarket as Address);
    pacer.watch(...PROVIDERS.map((n) => devAddress(n)));
    pacer.start();
    await cp(join(dir, "original"), join(dir, "fork"), { recursive: true });
    await startAgents(join(dir, "fork"), fork.rpcUrl);

    // The forked state reads as on the original: the deal, its pieces and their health.
    expect(await holders(fork.rpcUrl)).to.deep.equal(before);
    const shown = await task<{ state: string; pieces: { provider: string }[] }>(fork.rpcUrl, [
      "repair-deal",
      "--id",
      dealId,
    ]);
    expect(shown.state).to.equal("Active");
    expect(shown.pieces.map((p) => getAddress(p.provider))).to.deep.equal(before);
    expect((await status()).status).to.equal("active");

    // A provider dies on the fork: the miner rebuilds its piece and reassigns it there.
    const victimIndex = 2;
    const victim = PROVIDERS.find((n) => getAddress(devAddress(n)) === before[victimIndex]) as number;
    const since = (await status()).repairs.length;
    pacer.release(devAddress(victim));
    await agents.get(`provider-${victim}`)?.kill9();
    const job = await waitFor(
      "the repair on the fork",
      120_000,
      async () => {
        const s = await status();
        const done = s.repairs.slice(since).find((j) => j.status === "done" && j.indices.includes(victimIndex));
        return done && s.pieces.every((p) => p.state === "assigned") ? done : undefined;
      },
      () => miner().output(),
    );
    expect(job.bytesDownloaded).to.be.greaterThan(0);
    const after = await holders(fork.rpcUrl);
    expect(after[victimIndex]).to.not.equal(before[victimIndex]);
    const repairedEvents = await client(fork.rpcUrl).getContractEvents({
      address: deployment.contracts.RepairMarket as Address,
      abi: repairMarketAbi,
      eventName: "PieceRepaired",
      args: { dealId: BigInt(dealId) },
      fromBlock: frozenAt + 1n,
    });
    expect(repairedEvents.length).to.be.greaterThan(0);

    // The original devnet did not move: same head, same holders, none of the fork's transactions.
    expect(await client(original.rpcUrl).getBlockNumber()).to.equal(frozenAt);
    expect(await holders(original.rpcUrl)).to.deep.equal(before);
    const tx = repairedEvents[0].transactionHash;
    const onOriginal = await client(original.rpcUrl)
      .getTransactionReceipt({ hash: tx })
      .then(
        () => true,
        () => false,
      );
    expect(onOriginal).to.equal(false);
    // Every live provider proved in time on both chains: the pacer never gave up waiting.
    expect(pacers.flatMap((p) => p.timedOutHolds)).to.deep.equal([]);
  });

  it("a fork from before the block the data dirs last saw: miner and provider refuse to start and say why", async () => {
    // What Hardhat does by default (it forks an unknown chain 128 blocks behind its head): the
    // fork lacks blocks the agents' data dirs already saw, so their deals, proposals and miner
    // may not exist there. Acting on it gave NotMinerOwner and false losses; now they refuse.
    await stopAgents();
    const frozenAt = await client(original.rpcUrl).getBlockNumber();
    // Nothing mines the stale fork: the agents must refuse before they need a block.
    stale = await forkDevnet(original.rpcUrl, PACED_DEVNET_ENV, frozenAt - 60n);
    await cp(join(dir, "original"), join(dir, "stale"), { recursive: true });
    const refusal = async (start: Promise<DaemonProcess>): Promise<string> =>
      start.then(
        async (d) => {
          await d.stop();
          return "started";
        },
        (err: Error) => err.message,
      );
    const minerRefusal = await refusal(startDaemon("repair", minerArgs(join(dir, "stale"), stale.rpcUrl)));
    expect(minerRefusal).to.match(/exited with 1 before starting/);
    expect(minerRefusal).to.match(/the chain is at block \d+, behind block \d+ that this data dir already saw/);
    expect(minerRefusal).to.include("--fork-block-number");
    expect(minerRefusal).to.not.include("NotMinerOwner");
    const providerRefusal = await refusal(
      startDaemon("provider", providerArgs(join(dir, "stale"), PROVIDERS[0], stale.rpcUrl)),
    );
    expect(providerRefusal).to.match(/behind block \d+ that this data dir already saw/);
    // Nothing was sent to the stale fork: no transaction from the miner's key.
    const nonce = await client(stale.rpcUrl).getTransactionCount({ address: devAddress(MINER) });
    const nonceAtFork = await client(original.rpcUrl).getTransactionCount({
      address: devAddress(MINER),
      blockNumber: frozenAt - 60n,
    });
    expect(nonce).to.equal(nonceAtFork);
  });
});
