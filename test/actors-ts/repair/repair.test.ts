import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, getAddress, http, type Address, type Hex } from "viem";
import type { Devnet } from "../../helpers/devnet";
import {
  deployTo,
  devAddress,
  devKey,
  fundTokens,
  runCli,
  startDaemon,
  type DaemonProcess,
} from "../../helpers/agents";
import { waitFor } from "../../helpers/wait";
import { startPacedDevnet, type ChainPacer } from "../../helpers/chain-pacer";
import type { Deployment } from "../../../actors-ts/chain/deployment";
import { repairMarketAbi, storageMarketAbi } from "../../../actors-ts/chain/generated/abis";
import type { RepairDealStatusResponse } from "../../../actors-ts/repair/api";
import { superviseSuiteProcesses } from "../../helpers/process-logs";

const PERIOD = 12; // proving period, epochs (500 ms blocks, mined by a ChainPacer: about 6 s)
const PROVIDERS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const MINER = 12;
const CLIENT = 1;
const READER = 13;
/** The provider the miner trusts most: it gets a piece, and is asked first during repairs. */
const TRUSTED = 3;

describe("repair miner: repair-backed deals, placement, fault detection, minimal-download repair", function () {
  this.timeout(600_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let pacer: ChainPacer;
  let dir: string;
  let deployment: Deployment;
  const providers = new Map<number, DaemonProcess>();
  let miner: DaemonProcess;
  let file: Buffer;
  let droot: Hex;
  let dealId: string;
  const chain = () => createPublicClient({ transport: http(devnet.rpcUrl) });

  function providerArgs(n: number, extra: string[] = []): string[] {
    return [
      ...["--port", "0", "--data-dir", join(dir, `provider-${n}`), "--key", devKey(n), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--prove-interval-ms", "1000", "--publish-interval-ms", "500"],
      ...["--settle-interval-ms", "60000", "--scrub-interval-ms", "600000", "--redeem-interval-ms", "60000"],
      ...extra,
    ];
  }

  /** Output of miners that were stopped or killed (for DUMP_LOGS). */
  const pastMinerOutput: string[] = [];

  async function startMiner(): Promise<DaemonProcess> {
    if (miner) pastMinerOutput.push(miner.output());
    return startDaemon("repair", [
      ...["--port", "0", "--data-dir", join(dir, "miner"), "--key", devKey(MINER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--config", join(dir, "miner.json")],
      ...["--watch-interval-ms", "1000", "--work-interval-ms", "200", "--confirmations", "1"],
      ...["--claim-interval-ms", "60000"],
    ]);
  }

  async function status(): Promise<RepairDealStatusResponse> {
    const res = await fetch(`${miner.url}/repair/deals/${dealId}`);
    return (await res.json()) as RepairDealStatusResponse;
  }

  const holder = async (index: number): Promise<Address> =>
    (
      await chain().readContract({
        address: deployment.contracts.RepairMarket as Address,
        abi: repairMarketAbi,
        functionName: "pieceSlot",
        args: [BigInt(dealId), BigInt(index)],
      })
    ).provider;

  const providerIndexOf = (address: Address) =>
    PROVIDERS.find((n) => getAddress(devAddress(n)) === getAddress(address)) as number;

  /** The provider process holding this address is running (neither exited nor killed). */
  const alive = (address: Address) => {
    const p = providers.get(providerIndexOf(address))?.process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  };

  /** SIGKILLs provider `n`, first telling the pacer its periods may now go unproven. */
  async function killProvider(n: number): Promise<void> {
    pacer.release(devAddress(n));
    await providers.get(n)?.kill9();
  }

  /** Number of repair jobs the miner has recorded so far. */
  async function repairCount(): Promise<number> {
    return (await status()).repairs.length;
  }

  /** Waits for a repair of piece `index` recorded after the first `since` jobs to finish. */
  async function repaired(index: number, since: number) {
    return waitFor(
      `the repair of piece ${index} to complete`,
      120_000,
      async () => {
        const s = await status();
        const job = s.repairs.slice(since).find((r) => r.status === "done" && r.indices.includes(index));
        return job && s.pieces.every((p) => p.state === "assigned") ? { s, job } : undefined;
      },
      () => miner.output(),
    );
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-repair-"));
    // Blocks come from the pacer: a provider that is only slow never misses a period; the ones
    // this suite kills are released first.
    devnet = await startPacedDevnet(500);
    pacer = devnet.pacer;
    deployment = await deployTo(
      devnet,
      join(dir, "deployments"),
      { provingPeriodEpochs: PERIOD, challengeWindowEpochs: PERIOD / 2 },
      { repairWindowEpochs: 200, placementWindowEpochs: 200 },
    );
    await fundTokens(
      devnet,
      deployment,
      [CLIENT, MINER, READER, ...PROVIDERS].map((n) => devAddress(n)),
      10n ** 24n,
    );
    pacer.setMarket(deployment.contracts.StorageMarket as Address);
    pacer.watch(...PROVIDERS.map((n) => devAddress(n)));
    await writeFile(join(dir, "miner.json"), JSON.stringify({ reputation: { [devAddress(TRUSTED)]: 0.99 } }));
    const started = await Promise.all(PROVIDERS.map((n) => startDaemon("provider", providerArgs(n))));
    PROVIDERS.forEach((n, i) => providers.set(n, started[i]));
    miner = await startMiner();
  });

  after(async () => {
    // DUMP_LOGS=DIR keeps every miner's and provider's output for a post-mortem.
    if (process.env.DUMP_LOGS) {
      await mkdir(process.env.DUMP_LOGS, { recursive: true });
      await writeFile(join(process.env.DUMP_LOGS, "miner.log"), [...pastMinerOutput, miner?.output() ?? ""].join("\n"));
      for (const [n, p] of providers) await writeFile(join(process.env.DUMP_LOGS, `provider-${n}.log`), p.output());
    }
    await miner?.stop();
    await Promise.all([...providers.values()].map((p) => p.stop()));
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores a file repair-backed: the miner checks it, makes the deal, places k + m pieces with distinct providers", async () => {
    file = randomBytes(3 * 1024 * 1024 + 777);
    await writeFile(join(dir, "file.bin"), file);
    const r = await runCli([
      ...["client", "store", join(dir, "file.bin"), "--repair", "--k", "4", "--m", "2", "--miner", devAddress(MINER)],
      ...["--key", devKey(CLIENT), "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const stored = JSON.parse(r.stdout) as { droot: Hex; dealId: string };
    droot = stored.droot;
    dealId = stored.dealId;
    // Every piece assigned on chain, each with a different provider, and proven once (the miner
    // then drops its local copies).
    await waitFor(
      "the repair deal to become Active",
      90_000,
      async () => {
        const deal = await chain().readContract({
          address: deployment.contracts.RepairMarket as Address,
          abi: repairMarketAbi,
          functionName: "getDeal",
          args: [BigInt(dealId)],
        });
        return deal.state === 2 ? true : undefined;
      },
      () => miner.output(),
    );
    const holders = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    expect(new Set(holders).size).to.equal(6);
    expect(
      holders.map((a) => getAddress(a)),
      `holders ${holders.join(", ")}; miner: ${JSON.stringify(await status())}`,
    ).to.include(getAddress(devAddress(TRUSTED)));
    await waitFor("the miner to drop its local copies once every piece was proven", 90_000, async () =>
      miner.output().includes("local copies deleted") ? true : undefined,
    );
  });

  it("a provider is killed: the piece is rebuilt from k pieces, placed elsewhere and reassigned", async () => {
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const victimIndex = pieces.findIndex((a) => providerIndexOf(a) !== TRUSTED);
    const victim = pieces[victimIndex];
    const n = providerIndexOf(victim);
    const since = await repairCount();
    await killProvider(n);
    const { job, s } = await repaired(victimIndex, since);
    expect(job.indices).to.deep.equal([victimIndex]);
    const newHolder = await holder(victimIndex);
    expect(getAddress(newHolder)).to.not.equal(getAddress(victim));
    expect(new Set(await Promise.all([0, 1, 2, 3, 4, 5].map(holder))).size).to.equal(6);
    expect(s.evidence.filter((e) => e.index === victimIndex)).to.deep.equal([]);
    // Exactly k pieces downloaded.
    const payload = (await pieceSizes())[0];
    expect(job.bytesDownloaded).to.equal(4 * payload);
    // How many epochs a repair takes depends on the machine's speed: a figure for `npm run bench`
    // (repair/faultToReassign/epochs), not an assertion here.
    expect(BigInt(job.reassignedEpoch as string)).to.be.greaterThan(BigInt(job.faultEpoch as string));
    // The file still comes back byte for byte, paid, from the providers.
    const out = join(dir, "retrieved-1.bin");
    const r = await runCli([
      ...["client", "retrieve", droot, "--out", out, "--key", devKey(READER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "reader"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(sha256(await readFile(out))).to.equal(sha256(file));
  });

  async function pieceSizes(): Promise<number[]> {
    const res = await fetch(`${miner.url}/manifests/${droot}`);
    const manifest = (await res.json()) as { pieces: { payloadSize: number }[] };
    return manifest.pieces.map((p) => p.payloadSize);
  }

  it("a holder serves corrupt bytes during a repair: evidence is recorded, another holder is used, the repair completes", async () => {
    // The trusted provider goes bad: it is asked first, and lies.
    await providers.get(TRUSTED)?.stop();
    providers.set(TRUSTED, await startDaemon("provider", providerArgs(TRUSTED, ["--fault", "corrupt-reads"])));
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const victimIndex = pieces.findIndex((p) => getAddress(p) !== getAddress(devAddress(TRUSTED)));
    const since = await repairCount();
    await killProvider(providerIndexOf(pieces[victimIndex]));
    const { job, s } = await repaired(victimIndex, since);
    expect(job.indices).to.deep.equal([victimIndex]);
    const evidence = s.evidence.filter((e) => getAddress(e.provider as Address) === getAddress(devAddress(TRUSTED)));
    expect(evidence.length, JSON.stringify(s.evidence)).to.be.greaterThan(0);
    expect(evidence[0].expected).to.not.equal(evidence[0].actual);
    const payload = (await pieceSizes())[0];
    // k good pieces plus what was read of the corrupt one before its first chunk failed.
    expect(job.bytesDownloaded).to.be.greaterThan(4 * payload);
    expect(job.bytesDownloaded).to.be.at.most(5 * payload);
    expect(miner.output()).to.include("evidence recorded");
  });

  it("recovers from a wiped data dir: manifests come back from providers (orphans) and repairs continue", async () => {
    await miner.stop();
    await rm(join(dir, "miner"), { recursive: true, force: true });
    miner = await startMiner();
    await waitFor(
      "the orphaned deal to be recovered",
      60_000,
      async () => {
        const res = await fetch(`${miner.url}/repair/deals/${dealId}`);
        return res.status === 200 ? true : undefined;
      },
      () => miner.output(),
    );
    expect(miner.output()).to.include("orphan recovered");
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const victimIndex = pieces.findIndex((a) => alive(a) && providerIndexOf(a) !== TRUSTED);
    const since = await repairCount();
    await killProvider(providerIndexOf(pieces[victimIndex]));
    const { job } = await repaired(victimIndex, since);
    expect(job.indices).to.deep.equal([victimIndex]);
  });

  it("kill -9 of the miner mid-repair: the restarted miner finishes it with one new storage deal, not two", async () => {
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const victimIndex = pieces.findIndex((a) => alive(a) && providerIndexOf(a) !== TRUSTED);
    const from = await chain().getBlockNumber();
    const since = await repairCount();
    await killProvider(providerIndexOf(pieces[victimIndex]));
    await waitFor(
      "the repair to start",
      60_000,
      async () => {
        const s = await status();
        return s.repairs.slice(since).some((r) => r.indices.includes(victimIndex)) ? true : undefined;
      },
      () => miner.output(),
    );
    await miner.kill9();
    miner = await startMiner();
    const { job } = await repaired(victimIndex, since);
    expect(job.indices).to.deep.equal([victimIndex]);
    const root = JSON.parse(await (await fetch(`${miner.url}/manifests/${droot}`)).text()).pieces[victimIndex]
      .root as Hex;
    const published = await chain().getContractEvents({
      address: deployment.contracts.StorageMarket as Address,
      abi: storageMarketAbi,
      eventName: "DealPublished",
      args: { client: devAddress(MINER) },
      fromBlock: from,
    });
    expect(published.filter((e) => e.args.proposal?.pieceCid.toLowerCase() === root.toLowerCase()).length).to.equal(1);
  });

  it("more than m providers of a file die at once: the file is reported lost and the client refunded on chain", async () => {
    // Once every piece has been proven the miner holds no copies: losing m + 1 holders loses the file.
    await waitFor("the miner to drop its local copies", 90_000, async () => {
      const s = await status();
      return s.pieces.every((p) => p.state === "assigned" && !p.localCopy) ? true : undefined;
    });
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const victims = pieces.filter(alive).slice(0, 3);
    expect(victims.length).to.equal(3);
    await Promise.all(victims.map((a) => killProvider(providerIndexOf(a))));
    const lost = await waitFor(
      "FileLost on chain",
      120_000,
      async () => {
        const events = await chain().getContractEvents({
          address: deployment.contracts.RepairMarket as Address,
          abi: repairMarketAbi,
          eventName: "FileLost",
          args: { dealId: BigInt(dealId) },
          fromBlock: 0n,
        });
        return events[0];
      },
      () => miner.output(),
    );
    expect(lost.args.clientRefund as bigint).to.be.greaterThan(0n);
    const refund = await chain().readContract({
      address: deployment.contracts.RepairMarket as Address,
      abi: repairMarketAbi,
      functionName: "balanceOf",
      args: [devAddress(CLIENT)],
    });
    expect(refund).to.be.greaterThanOrEqual(lost.args.clientRefund as bigint);
    await waitFor("the miner to mark the deal lost", 30_000, async () =>
      (await status()).status === "lost" ? true : undefined,
    );
  });

  it("no live provider was ever late: the pacer never had to give up waiting for a proof", () => {
    console.log(`      pacer: ${pacer.mined} blocks mined, longest hold for a proof ${pacer.longestHoldMs} ms`);
    expect(pacer.timedOutHolds).to.deep.equal([]);
  });
});

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
