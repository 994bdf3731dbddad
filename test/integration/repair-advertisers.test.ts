import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, getAddress, http, type Address, type Hex } from "viem";
import type { Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { paymentChannelsAbi, repairMarketAbi } from "../../actors-ts/chain/generated/abis";
import { ErasurePool } from "../../actors-ts/erasure/erasure-pool";
import { prepareFile } from "../../actors-ts/manifest/prepare";
import type { RepairDealStatusResponse } from "../../actors-ts/protocol/repair-api";

// Issue 17 (b), seed 002: a repair in which the advertisers are not the on-chain holders. A
// provider that is no holder keeps copies of two pieces (another client's direct deals on the
// same bytes) and advertises them; the holders of the healthy pieces keep proving but cannot be
// reached (their registered endpoint leads nowhere). The repair downloads from the advertiser
// only, and completes.

const PERIOD = 12; // proving period, epochs (500 ms blocks, mined by a ChainPacer: about 6 s)
/** The providers the file is first placed with (k = 2, m = 2). */
const HOLDERS = [2, 3, 4, 5];
/** The spare the rebuilt piece goes to (trusted most by the miner). */
const SPARE = 6;
/** Holds copies of two pieces, advertised; holds nothing for the miner. */
const COPY = 7;
const MINER = 12;
const CLIENT = 1;
/** The client whose direct deals put the copies with COPY. */
const OTHER = 13;
const K = 2;
const M = 2;

describe("repair from advertisers that are not the on-chain holders (issue 17b, seed 002)", function () {
  this.timeout(300_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let pacer: ChainPacer;
  let dir: string;
  let deployment: Deployment;
  const providers = new Map<number, DaemonProcess>();
  let miner: DaemonProcess;
  const chain = () => createPublicClient({ transport: http(devnet.rpcUrl) });
  const chainArgs = () => ["--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")];

  function providerArgs(n: number, extra: string[] = []): string[] {
    return [
      ...["--port", "0", "--data-dir", join(dir, `provider-${n}`), "--key", devKey(n), ...chainArgs()],
      ...["--prove-interval-ms", "1000", "--publish-interval-ms", "500"],
      ...["--settle-interval-ms", "60000", "--scrub-interval-ms", "600000", "--redeem-interval-ms", "60000"],
      ...extra,
    ];
  }

  async function startProvider(n: number, extra: string[] = []): Promise<void> {
    providers.set(n, await startDaemon("provider", providerArgs(n, extra)));
    pacer.watch(devAddress(n));
  }

  const slot = (dealId: string, index: number) =>
    chain().readContract({
      address: deployment.contracts.RepairMarket as Address,
      abi: repairMarketAbi,
      functionName: "pieceSlot",
      args: [BigInt(dealId), BigInt(index)],
    });

  async function status(dealId: string): Promise<RepairDealStatusResponse> {
    return (await (await fetch(`${miner.url}/repair/deals/${dealId}`)).json()) as RepairDealStatusResponse;
  }

  const providerOf = (address: Address): number =>
    [...HOLDERS, SPARE, COPY].find((n) => getAddress(devAddress(n)) === getAddress(address)) ?? -1;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-repair-ads-"));
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
      [CLIENT, MINER, OTHER, ...HOLDERS, SPARE, COPY].map((n) => devAddress(n)),
      10n ** 24n,
    );
    pacer.setMarket(deployment.contracts.StorageMarket as Address);
    await writeFile(join(dir, "miner.json"), JSON.stringify({ reputation: { [devAddress(SPARE)]: 0.9 } }));
    // Only the first holders run while the file is placed, so they are the ones that get it.
    await Promise.all(HOLDERS.map((n) => startProvider(n)));
    miner = await startDaemon("repair", [
      ...["--port", "0", "--data-dir", join(dir, "miner"), "--key", devKey(MINER), ...chainArgs()],
      ...["--config", join(dir, "miner.json"), "--watch-interval-ms", "1000", "--work-interval-ms", "200"],
      ...["--confirmations", "1", "--claim-interval-ms", "60000", "--settle-interval-ms", "60000"],
    ]);
  });

  after(async () => {
    await miner?.stop();
    await Promise.all([...providers.values()].map((p) => p.stop()));
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("downloads only from the advertiser of copies while the holders cannot serve, and the repair completes", async () => {
    const file = randomBytes(300_000 + 17);
    await writeFile(join(dir, "file.bin"), file);
    const r = await runCli([
      ...["client", "store", join(dir, "file.bin"), "--repair", "--k", String(K), "--m", String(M), "--code", "rs"],
      ...["--miner", devAddress(MINER), "--key", devKey(CLIENT), ...chainArgs()],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const { droot, dealId } = JSON.parse(r.stdout) as { droot: Hex; dealId: string };
    // Every piece proven once: the miner drops its copies, so a repair must download.
    await waitFor(
      "the miner to drop its local copies once every piece was proven",
      120_000,
      async () => (miner.output().includes("local copies deleted") ? true : undefined),
      () => miner.output(),
    );
    const holderOf = await Promise.all([0, 1, 2, 3].map(async (i) => providerOf((await slot(dealId, i)).provider)));
    expect([...holderOf].sort()).to.deep.equal(HOLDERS);

    // The same pieces, encoded again from the file (the encoding is deterministic).
    const pool = new ErasurePool(1);
    const prepared = await prepareFile(join(dir, "file.bin"), { k: K, m: M, outDir: join(dir, "again"), pool }).finally(
      () => pool.close(),
    );
    expect(prepared.manifest.droot).to.equal(droot);

    // COPY, no holder of this file, gets pieces 2 and 3 from another client and advertises them.
    await startProvider(COPY);
    await startProvider(SPARE);
    for (const i of [2, 3]) {
      const stored = await runCli([
        ...["client", "store", prepared.piecePaths[i], "--provider", devAddress(COPY), "--duration", "4000"],
        ...["--key", devKey(OTHER), ...chainArgs(), "--data-dir", join(dir, "other"), "--json"],
      ]);
      expect(stored.code, stored.stderr + stored.stdout).to.equal(0);
      expect((JSON.parse(stored.stdout) as { pieceCid: string }).pieceCid).to.equal(
        prepared.manifest.pieces[i].pieceCid,
      );
    }

    // The holders of pieces 1–3 keep proving, but their registered endpoint leads nowhere.
    const dead = await deadUrl();
    for (const i of [1, 2, 3]) {
      const n = holderOf[i];
      await providers.get(n)?.stop();
      providers.set(n, await startDaemon("provider", providerArgs(n, ["--public-url", dead])));
    }
    // Piece 0's holder dies: the repair needs k = 2 of pieces 1–3.
    const before = (await status(dealId)).repairs.length;
    pacer.release(devAddress(holderOf[0]));
    await providers.get(holderOf[0])?.kill9();
    const job = await waitFor(
      "the repair of piece 0 to be done and confirmed",
      180_000,
      async () => {
        const s = await status(dealId);
        const done = s.repairs.slice(before).find((j) => j.indices.includes(0) && j.status === "done");
        return done && (await slot(dealId, 0)).confirmed ? done : undefined;
      },
      () => miner.output(),
    );
    expect(job.indices).to.deep.equal([0]);

    // What the miner planned: pieces 2 and 3 from COPY alone (the advertiser), first; piece 1
    // (advertised by nobody) only from its holder, last.
    const plan = JSON.parse(
      miner
        .output()
        .split("\n")
        .find((l) => l.includes("repair: downloading k healthy pieces")) ?? "{}",
    ) as { holders?: Record<string, string[]>; order?: number[] };
    expect(plan.holders?.["2"]?.map((a) => getAddress(a))).to.deep.equal([getAddress(devAddress(COPY))]);
    expect(plan.holders?.["3"]?.map((a) => getAddress(a))).to.deep.equal([getAddress(devAddress(COPY))]);
    expect(plan.holders?.["1"]?.map((a) => getAddress(a))).to.deep.equal([getAddress(devAddress(holderOf[1]))]);
    expect(plan.order?.slice(0, 2).sort()).to.deep.equal([2, 3]);
    // What it did: exactly k pieces' bytes, paid to COPY only, no failed download.
    const payload = prepared.manifest.pieces[2].payloadSize + prepared.manifest.pieces[3].payloadSize;
    expect(job.bytesDownloaded).to.equal(payload);
    const channels = await chain().getContractEvents({
      address: deployment.contracts.PaymentChannels as Address,
      abi: paymentChannelsAbi,
      eventName: "ChannelCreated",
      args: { payer: devAddress(MINER) },
      fromBlock: 0n,
    });
    expect(channels.length).to.be.greaterThan(0);
    for (const c of channels) expect(getAddress(c.args.payee as Address)).to.equal(getAddress(devAddress(COPY)));
    expect(miner.output()).to.not.include("repair download failed");
    expect((await status(dealId)).evidence).to.deep.equal([]);
    // The rebuilt piece went to the spare and was proven there.
    const repaired = await slot(dealId, 0);
    expect(getAddress(repaired.provider)).to.equal(getAddress(devAddress(SPARE)));
    expect(repaired.lostAtEpoch).to.equal(0n);
  });
});

/** A URL on 127.0.0.1 where nothing listens (a port taken, then given back). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
