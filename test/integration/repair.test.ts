import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, getAddress, http, toHex, type Address, type Hex } from "viem";
import type { Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";
import type { Deployment } from "../../actors-ts/chain/deployment";
import {
  paymentChannelsAbi,
  paymentTokenAbi,
  repairMarketAbi,
  storageMarketAbi,
} from "../../actors-ts/chain/generated/abis";
import type { RepairDealStatusResponse } from "../../actors-ts/protocol/repair-api";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import { request } from "undici";
import { privateKeyToAccount } from "viem/accounts";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import {
  addBid,
  cancelBid,
  cancelBidWithRefund,
  signDealAuthorization,
} from "../../actors-ts/chain/repair-market/actions";
import { getBid } from "../../actors-ts/chain/repair-market/reads";
import { signRequest } from "../../actors-ts/core/signed-request";
import { ErasurePool } from "../../actors-ts/erasure/erasure-pool";
import { prepareFile } from "../../actors-ts/manifest/prepare";
import { encodedPayloadBytes, manifestDroot, type Manifest } from "../../actors-ts/manifest/manifest";
import { commpOfFile } from "../../actors-ts/piece/commp";
import { subChunkPlanGeometry } from "../../actors-ts/piece/subchunk-proof";
import { clayParams } from "../../actors-ts/erasure/clay-core";
import { clayRepairPlanes } from "../../actors-ts/erasure/clay-repair";
import { REPAIR_PATHS, type RepairInfoResponse } from "../../actors-ts/protocol/repair-api";

const PERIOD = 12; // proving period, epochs (500 ms blocks, mined by a ChainPacer: about 6 s)
const PROVIDERS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/** Providers started later, each the only spare for a repair (funded dev accounts). */
const LATE = [14, 15, 16];
/** Providers started for the Clay file at the end, when the suite has killed most of the others. */
const CLAY_PROVIDERS = [17, 18, 19];
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
      ...["--claim-interval-ms", "60000", "--settle-interval-ms", "1000"],
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

  const slot = (index: number) =>
    chain().readContract({
      address: deployment.contracts.RepairMarket as Address,
      abi: repairMarketAbi,
      functionName: "pieceSlot",
      args: [BigInt(dealId), BigInt(index)],
    });

  const providerIndexOf = (address: Address) =>
    [...PROVIDERS, ...LATE, ...CLAY_PROVIDERS].find((n) => getAddress(devAddress(n)) === getAddress(address)) as number;

  /** Starts provider `n` and has the pacer wait for its proofs. */
  async function startProvider(n: number, extra: string[] = []): Promise<void> {
    providers.set(n, await startDaemon("provider", providerArgs(n, extra)));
    pacer.watch(devAddress(n));
  }

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

  /**
   * Waits until each of `indices` is in a job recorded after the first `since` that is done and
   * confirmed (the new storage deal proven), every piece is assigned; returns those jobs.
   */
  async function confirmed(indices: number[], since: number) {
    return waitFor(
      `the repairs of pieces ${indices.join(", ")} to be confirmed`,
      240_000,
      async () => {
        const s = await status();
        const jobs = indices.map((i) =>
          s.repairs.slice(since).find((r) => r.status === "done" && r.confirmedEpoch && r.indices.includes(i)),
        );
        return jobs.every((j) => j !== undefined) && s.pieces.every((p) => p.state === "assigned")
          ? { s, jobs: jobs }
          : undefined;
      },
      () => miner.output(),
    );
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
      [CLIENT, MINER, READER, ...PROVIDERS, ...LATE].map((n) => devAddress(n)),
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
      ...["client", "store", join(dir, "file.bin"), "--repair", "--k", "4", "--m", "2"],
      ...["--code", "rs", "--miner", devAddress(MINER)],
      ...["--key", devKey(CLIENT), "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const stored = JSON.parse(r.stdout) as { droot: Hex; dealId: string };
    droot = stored.droot;
    dealId = stored.dealId;
    // The encoded pieces (1.5× the file) went to the miner; the client keeps no copy of them.
    const work = join(dir, "client", "work");
    expect(existsSync(work) ? readdirSync(work).filter((name) => name.startsWith("prepare-")) : []).to.deep.equal([]);
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

  it("refuses a bid that pays for less than the file's payload (422 BidSizeMismatch) before anything goes on chain", async () => {
    const account = privateKeyToAccount(devKey(CLIENT));
    const clients = await connectChain(devnet.rpcUrl, account);
    const contracts = contractsOf(deployment);
    const path = join(dir, "underpaid.bin");
    await writeFile(path, randomBytes(400_000));
    const pool = new ErasurePool();
    const { manifest } = await prepareFile(path, { k: 4, m: 2, outDir: join(dir, "underpaid"), pool }).finally(() =>
      pool.close(),
    );
    // One byte short per piece: within what RepairMarket accepts for this piece size, so only
    // the miner, which knows the manifest, can tell.
    const size = encodedPayloadBytes(manifest) - 6n;
    const info = (await (await request(miner.url + REPAIR_PATHS.info)).body.json()) as RepairInfoResponse;
    const head = await clients.public.getBlockNumber();
    const bid = await addBid(clients, contracts, {
      droot: manifest.droot,
      pricePerBytePerEpoch: BigInt(info.pricePerBytePerEpoch),
      size,
      durationEpochs: 1000n,
      expiryEpoch: head + 1000n,
      codingParams: { k: 4, m: 2, pieceSize: BigInt(manifest.pieces[0].paddedSize), scheme: 0, d: 0 },
    });
    const deadline = head + 500n;
    const auth = { bidId: bid.bidId, askId: BigInt(info.askId), minerId: BigInt(info.minerId), deadline };
    const clientSignature = await signDealAuthorization(account, clients.chain.id, contracts.repairMarket, auth);
    const body = JSON.stringify({
      bidId: bid.bidId.toString(),
      askId: info.askId,
      deadline: deadline.toString(),
      clientSignature,
      manifest,
    });
    const headers = await signRequest(account, {
      method: "POST",
      path: REPAIR_PATHS.proposals,
      body,
      audience: info.worker,
    });
    const res = await request(miner.url + REPAIR_PATHS.proposals, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
    const answer = (await res.body.json()) as { error: string; details: Record<string, string> };
    expect(res.statusCode).to.equal(422);
    expect(answer.error).to.equal("BidSizeMismatch");
    expect(answer.details.manifestPayloadBytes).to.equal((size + 6n).toString());
    // Nothing was taken: the bid is still open, and the client cancels it with one command.
    const onChain = await getBid(clients, contracts, bid.bidId);
    expect(onChain.state).to.equal(1); // Open
    const cancelled = await runCli([
      ...["client", "cancel-bid", bid.bidId.toString(), "--key", devKey(CLIENT), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--json"],
    ]);
    expect(cancelled.code, cancelled.stderr + cancelled.stdout).to.equal(0);
    expect(BigInt((JSON.parse(cancelled.stdout) as { refund: string }).refund)).to.equal(bid.amount);
    expect((await getBid(clients, contracts, bid.bidId)).state).to.equal(3); // Cancelled
  });

  it("refuses a wrong manifest, a piece that does not match its commitment and parity that does not re-derive: a 4xx naming the piece and the check, no deal, the bid open, nothing kept", async () => {
    const account = privateKeyToAccount(devKey(CLIENT));
    const clients = await connectChain(devnet.rpcUrl, account);
    const contracts = contractsOf(deployment);
    const info = (await (await request(miner.url + REPAIR_PATHS.info)).body.json()) as RepairInfoResponse;
    const pool = new ErasurePool();
    const prepare = async (name: string) => {
      await writeFile(join(dir, `${name}.bin`), randomBytes(300_000));
      return prepareFile(join(dir, `${name}.bin`), { k: 4, m: 2, outDir: join(dir, name), pool });
    };
    /** Signed JSON or byte call to the miner, as the client. */
    const call = async (method: "POST" | "PUT", path: string, body: string | Buffer) => {
      const signed =
        typeof body === "string"
          ? await signRequest(account, { method, path, body, audience: info.worker })
          : await signRequest(account, {
              method,
              path,
              bodySha256: createHash("sha256").update(body).digest("hex"),
              audience: info.worker,
            });
      const type = typeof body === "string" ? "application/json" : "application/octet-stream";
      const res = await request(miner.url + path, {
        method,
        headers: { ...signed, "content-type": type },
        body,
      });
      return {
        status: res.statusCode,
        body: (await res.body.json()) as { error?: string; details?: Record<string, unknown> } & Record<
          string,
          unknown
        >,
      };
    };
    const bidFor = async (manifest: Manifest, code = { scheme: 0, d: 0 }) => {
      const head = await clients.public.getBlockNumber();
      const bid = await addBid(clients, contracts, {
        droot: manifest.droot,
        pricePerBytePerEpoch: BigInt(info.pricePerBytePerEpoch),
        size: encodedPayloadBytes(manifest),
        durationEpochs: 1000n,
        expiryEpoch: head + 1000n,
        codingParams: { k: 4, m: 2, pieceSize: BigInt(manifest.pieces[0].paddedSize), ...code },
      });
      const deadline = head + 500n;
      const auth = { bidId: bid.bidId, askId: BigInt(info.askId), minerId: BigInt(info.minerId), deadline };
      const clientSignature = await signDealAuthorization(account, clients.chain.id, contracts.repairMarket, auth);
      return {
        bidId: bid.bidId,
        proposal: (manifest: Manifest) =>
          JSON.stringify({
            bidId: bid.bidId.toString(),
            askId: info.askId,
            deadline: deadline.toString(),
            clientSignature,
            manifest,
          }),
      };
    };
    /** Where the miner keeps an uploaded piece (its BlobStore: data dir/pieces/blobs/root). */
    const minerBlob = (root: Hex) => join(dir, "miner", "pieces", "blobs", root.toLowerCase());
    const expectUntouched = async (bidId: bigint, roots: Hex[]) => {
      expect((await getBid(clients, contracts, bidId)).state).to.equal(1); // still Open: no deal
      for (const root of roots) expect(existsSync(minerBlob(root)), root).to.equal(false);
      await cancelBid(clients, contracts, bidId);
    };
    try {
      // 1. A manifest other than the one the bid commits to.
      const a = await prepare("wrong-manifest-a");
      const b = await prepare("wrong-manifest-b");
      const bidA = await bidFor(a.manifest);
      const wrong = await call("POST", REPAIR_PATHS.proposals, bidA.proposal(b.manifest));
      expect(wrong.status, JSON.stringify(wrong.body)).to.equal(422);
      expect(wrong.body.error).to.equal("DrootMismatch");
      await expectUntouched(
        bidA.bidId,
        b.manifest.pieces.map((p) => p.root),
      );

      // 1b. A bid that claims a Clay code for a Reed–Solomon file: the miner would take on a
      // repair it cannot do as bid. Refused before anything is stored; the client's bid stays
      // open and its whole amount comes back on cancel.
      const lyingBid = await bidFor(a.manifest, { scheme: 1, d: 5 });
      const lied = await call("POST", REPAIR_PATHS.proposals, lyingBid.proposal(a.manifest));
      expect(lied.status, JSON.stringify(lied.body)).to.equal(422);
      expect(lied.body.error).to.equal("CodingMismatch");
      const lyingOnChain = await getBid(clients, contracts, lyingBid.bidId);
      expect(lyingOnChain.state).to.equal(1); // still Open: no deal
      for (const p of a.manifest.pieces) expect(existsSync(minerBlob(p.root)), p.root).to.equal(false);
      const { refund } = await cancelBidWithRefund(clients, contracts, lyingBid.bidId);
      expect(refund).to.equal(lyingOnChain.amount);

      // 2. A piece whose bytes do not match the commitment the manifest gives for it.
      const c = await prepare("corrupt-piece");
      const bidC = await bidFor(c.manifest);
      const accepted = await call("POST", REPAIR_PATHS.proposals, bidC.proposal(c.manifest));
      expect(accepted.status, JSON.stringify(accepted.body)).to.equal(201);
      const uploadPaths = accepted.body.uploadPaths as string[];
      const bytes = await readFile(c.piecePaths[1]);
      bytes[bytes.length >> 1] ^= 0x01;
      const corrupt = await call("PUT", uploadPaths[1], bytes);
      expect(corrupt.status, JSON.stringify(corrupt.body)).to.equal(422);
      expect(corrupt.body.error).to.equal("PieceCommitmentMismatch");
      expect(corrupt.body.details?.index).to.equal(1);
      await expectUntouched(bidC.bidId, [c.manifest.pieces[1].root]);

      // 3. Pieces that each match their commitment, but a parity piece is not the encoding of the data.
      const d = await prepare("bad-parity");
      await writeFile(d.piecePaths[5], randomBytes(d.manifest.pieces[5].payloadSize));
      const fake = await commpOfFile(d.piecePaths[5]);
      const pieces = d.manifest.pieces.map((p, i) =>
        i === 5 ? { ...p, pieceCid: fake.pieceCid, root: toHex(fake.root) } : p,
      );
      const { droot: _old, ...body } = { ...d.manifest, pieces };
      const lying: Manifest = { ...body, droot: manifestDroot(body).root };
      const bidD = await bidFor(lying);
      const taken = await call("POST", REPAIR_PATHS.proposals, bidD.proposal(lying));
      expect(taken.status, JSON.stringify(taken.body)).to.equal(201);
      for (const [i, path] of (taken.body.uploadPaths as string[]).entries()) {
        const up = await call("PUT", path, await readFile(d.piecePaths[i]));
        expect(up.status, `piece ${i}: ${JSON.stringify(up.body)}`).to.equal(200);
        expect(existsSync(minerBlob(lying.pieces[i].root)), `piece ${i} kept while the intake is open`).to.equal(true);
      }
      const commit = await call("POST", REPAIR_PATHS.commit(taken.body.intakeId as string), "{}");
      expect(commit.status, JSON.stringify(commit.body)).to.equal(422);
      expect(commit.body.error).to.equal("ParityMismatch");
      expect(commit.body.details?.index).to.equal(5);
      await expectUntouched(
        bidD.bidId,
        lying.pieces.map((p) => p.root),
      );
    } finally {
      await pool.close();
    }
  });

  it("two holders are killed together: both pieces are rebuilt from k downloaded pieces, re-placed and confirmed", async () => {
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const victims = [0, 1, 2, 3, 4, 5].filter((i) => providerIndexOf(pieces[i]) !== TRUSTED).slice(0, 2);
    const replaced = (await status()).pieces
      .filter((p) => victims.includes(p.index))
      .map((p) => BigInt(p.storageDealId as string));
    expect(replaced).to.have.length(2);
    const since = await repairCount();
    await Promise.all(victims.map((i) => killProvider(providerIndexOf(pieces[i]))));
    const { s, jobs } = await confirmed(victims, since);
    // Every loss is in exactly one job, and no job claims a piece it did not rebuild.
    const recorded = s.repairs.slice(since);
    expect(recorded.flatMap((r) => r.indices).sort()).to.deep.equal([...victims].sort());
    expect(recorded.every((r) => r.status === "done" && r.confirmedEpoch !== undefined)).to.equal(true);
    const after = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    for (const i of victims) expect(getAddress(after[i])).to.not.equal(getAddress(pieces[i]));
    expect(new Set(after.map((a) => getAddress(a))).size).to.equal(6);
    expect(s.evidence.filter((e) => victims.includes(e.index))).to.deep.equal([]);
    // Exactly k pieces downloaded per job (one job if both losses were seen before it ran).
    const payload = (await pieceSizes())[0];
    const distinct = [...new Map(jobs.map((j) => [j.id, j])).values()];
    expect(distinct.reduce((sum, j) => sum + j.bytesDownloaded, 0)).to.equal(4 * payload * distinct.length);
    // How many epochs a repair takes depends on the machine's speed: a figure for `npm run bench`
    // (repair/faultToReassign/epochs), not an assertion here.
    for (const j of distinct) {
      expect(BigInt(j.reassignedEpoch as string)).to.be.greaterThan(BigInt(j.faultEpoch as string));
      expect(BigInt(j.confirmedEpoch as string)).to.be.at.least(BigInt(j.reassignedEpoch as string));
    }
    // The file still comes back byte for byte, paid, from the providers.
    const out = join(dir, "retrieved-1.bin");
    const r = await runCli([
      ...["client", "retrieve", droot, "--out", out, "--key", devKey(READER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "reader"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(sha256(await readFile(out))).to.equal(sha256(file));
    // The dead providers' storage deals end Terminated once their data sets fail; nobody else
    // is left to settle them, so the miner does, and their locked funds come back to its escrow.
    const market = deployment.contracts.StorageMarket as Address;
    await waitFor(
      "the replaced storage deals to be settled closed by the miner",
      240_000,
      async () => {
        const infos = await Promise.all(
          replaced.map((id) =>
            chain().readContract({ address: market, abi: storageMarketAbi, functionName: "dealInfo", args: [id] }),
          ),
        );
        return infos.every((i) => i.closed) ? true : undefined;
      },
      () => miner.output(),
    );
    expect(miner.output()).to.include("replaced storage deal settled");
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
    // The trusted provider mends its ways (same data dir, honest reads) for the tests below.
    await providers.get(TRUSTED)?.stop();
    await startProvider(TRUSTED);
  });

  it("a piece that rots on a provider's disk is found by its scrubber and declared; the miner repairs it and the file comes back byte for byte", async () => {
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const victimIndex = pieces.findIndex((p) => getAddress(p) !== getAddress(devAddress(TRUSTED)) && alive(p));
    const n = providerIndexOf(pieces[victimIndex]);
    const manifest = (await (await fetch(`${miner.url}/manifests/${droot}`)).json()) as {
      pieces: { root: Hex; payloadSize: number }[];
    };
    const blob = join(dir, `provider-${n}`, "pieces", "blobs", manifest.pieces[victimIndex].root.toLowerCase());
    const since = await repairCount();
    const rottenDeal = (await slot(victimIndex)).storageDealId;
    // The provider keeps running its data set; only this piece's bytes change. Its next proofs
    // for this piece may fail before the scrubber declares, so the pacer stops waiting for it.
    pacer.release(devAddress(n));
    await providers.get(n)?.stop();
    const bytes = await readFile(blob);
    expect(bytes.length).to.equal(manifest.pieces[victimIndex].payloadSize);
    for (const at of [0, Math.floor(bytes.length / 2), bytes.length - 1]) bytes[at] ^= 0xff;
    await writeFile(blob, bytes);
    // Restarted with a short scrub interval: its first round recomputes every CommP from disk.
    providers.set(n, await startDaemon("provider", providerArgs(n, ["--scrub-interval-ms", "1000"])));
    await checkRot(n, victimIndex, since, rottenDeal).finally(() => pacer.watch(devAddress(n)));
  });

  /** The rest of the rot test: declared by the scrubber, repaired by the miner, read back intact. */
  async function checkRot(n: number, victimIndex: number, since: number, rottenDeal: bigint): Promise<void> {
    await waitFor("the provider's scrubber to declare the rotten piece", 120_000, async () =>
      providers.get(n)?.output().includes("faults declared") ? true : undefined,
    );
    expect(providers.get(n)?.output()).to.include("stored piece is missing or corrupt");
    const { job } = await repaired(victimIndex, since);
    expect(job.indices).to.deep.equal([victimIndex]);
    // A new storage deal holds the piece (possibly with the same provider, once it proves again).
    expect((await slot(victimIndex)).storageDealId).to.not.equal(rottenDeal);
    const out = join(dir, "retrieved-rot.bin");
    const r = await runCli([
      ...["client", "retrieve", droot, "--out", out, "--key", devKey(READER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "reader"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(sha256(await readFile(out))).to.equal(sha256(file));
  }

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

  it("a holder dies while another's repair runs and no spare is left: the waiting piece says why and when, then completes once a provider registers", async () => {
    // Every spare was used by the repairs above: one more provider is the only place for one piece.
    await startProvider(LATE[0]);
    const pieces = await Promise.all([0, 1, 2, 3, 4, 5].map(holder));
    const [first, second] = [0, 1, 2, 3, 4, 5].filter(
      (i) => alive(pieces[i]) && providerIndexOf(pieces[i]) !== TRUSTED,
    );
    const since = await repairCount();
    await killProvider(providerIndexOf(pieces[first]));
    await waitFor(
      "the first repair to start",
      120_000,
      async () => ((await status()).repairs.slice(since).some((r) => r.indices.includes(first)) ? true : undefined),
      () => miner.output(),
    );
    await killProvider(providerIndexOf(pieces[second]));
    // One of the two rebuilt pieces finds no provider: the status says so, and when it retries.
    const waiting = await waitFor(
      "a rebuilt piece waiting for a provider",
      180_000,
      async () => {
        const s = await status();
        return s.pieces.find(
          (p) =>
            [first, second].includes(p.index) && p.state === "pending" && /no provider can take/.test(p.error ?? ""),
        );
      },
      () => miner.output(),
    );
    expect(Date.parse(waiting.nextAttemptAt as string)).to.be.greaterThan(0);
    await startProvider(LATE[1]);
    const { s } = await confirmed([first, second], since);
    expect(
      s.repairs
        .slice(since)
        .flatMap((r) => r.indices)
        .sort(),
    ).to.deep.equal([first, second].sort());
  });

  it("kill -9 of the miner mid-repair: the restarted miner finishes it with one new storage deal, not two", async () => {
    await startProvider(LATE[2]);
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
    expect(lost.args.clientRefund).to.be.greaterThan(0n);
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
    // Retrieving the lost file pays nothing: fewer than k pieces have a holder, the error says
    // the deal is Lost on chain, and the reader opens no payment channel. (Counted by payer: the
    // miner may open channels of its own meanwhile, to download pieces for other repairs.)
    const channels = async () =>
      (
        await chain().getContractEvents({
          address: deployment.contracts.PaymentChannels as Address,
          abi: paymentChannelsAbi,
          eventName: "ChannelCreated",
          args: { payer: devAddress(READER) },
          fromBlock: 0n,
        })
      ).length;
    const channelsBefore = await channels();
    const r = await runCli([
      ...["client", "retrieve", droot, "--out", join(dir, "lost.bin"), "--key", devKey(READER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "reader-after-loss")],
      "--verbose", // the deals' chain state is a detail under the one-line error
    ]);
    expect(r.code).to.not.equal(0);
    expect(r.stderr, r.stdout).to.match(/only \d of the file's 6 pieces have a holder; k = 4 are needed/);
    expect(r.stderr).to.include(`repair deal ${dealId} is Lost`);
    expect(await channels()).to.equal(channelsBefore);
    // The refund and the slash share reach the client's wallet with one command.
    const wallet = () =>
      chain().readContract({
        address: deployment.contracts.PaymentToken as Address,
        abi: paymentTokenAbi,
        functionName: "balanceOf",
        args: [devAddress(CLIENT)],
      });
    const before = await wallet();
    const w = await runCli([
      ...["client", "withdraw", "--from", "repair", "--key", devKey(CLIENT), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--json"],
    ]);
    expect(w.code, w.stderr + w.stdout).to.equal(0);
    const withdrawn = JSON.parse(w.stdout) as { total: string; withdrawals: { source: string; amount: string }[] };
    expect(BigInt(withdrawn.total)).to.equal(refund);
    expect((await wallet()) - before).to.equal(refund);
    expect(
      await chain().readContract({
        address: deployment.contracts.RepairMarket as Address,
        abi: repairMarketAbi,
        functionName: "balanceOf",
        args: [devAddress(CLIENT)],
      }),
    ).to.equal(0n);
  });

  it("a Clay file (2 + 2, d = 3: the default coding, no --code given): a killed holder's piece is rebuilt from d helpers' sub-chunks (1.5 pieces downloaded) and the file comes back byte for byte", async () => {
    await fundTokens(devnet, deployment, CLAY_PROVIDERS.map(devAddress), 10n ** 24n);
    for (const n of CLAY_PROVIDERS) await startProvider(n);
    const live = [...providers.keys()].filter((n) => alive(devAddress(n)));
    expect(live.length, `live providers ${live.join(", ")}`).to.be.at.least(5); // 4 holders and a spare
    const clay = randomBytes(700_001);
    await writeFile(join(dir, "clay.bin"), clay);
    const r = await runCli([
      ...["client", "store", join(dir, "clay.bin"), "--repair", "--k", "2", "--m", "2"],
      ...["--miner", devAddress(MINER), "--key", devKey(CLIENT), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const stored = JSON.parse(r.stdout) as { droot: Hex; dealId: string };
    const repairMarket = deployment.contracts.RepairMarket as Address;
    const deal = () =>
      chain().readContract({
        address: repairMarket,
        abi: repairMarketAbi,
        functionName: "getDeal",
        args: [BigInt(stored.dealId)],
      });
    expect((await deal()).codingParams).to.include({ scheme: 1, d: 3, k: 2, m: 2 });
    const clayStatus = async () =>
      (await (await fetch(`${miner.url}/repair/deals/${stored.dealId}`)).json()) as RepairDealStatusResponse;
    await waitFor(
      "the Clay repair deal to become Active",
      120_000,
      async () => ((await deal()).state === 2 ? true : undefined),
      () => miner.output(),
    );
    const slotOf = (i: number) =>
      chain().readContract({
        address: repairMarket,
        abi: repairMarketAbi,
        functionName: "pieceSlot",
        args: [BigInt(stored.dealId), BigInt(i)],
      });
    const victim = (await slotOf(0)).provider;
    await killProvider(providerIndexOf(victim));
    const done = await waitFor(
      "the Clay file's piece 0 to be rebuilt, re-placed and confirmed",
      240_000,
      async () => {
        const s = await clayStatus();
        const job = s.repairs.find((j) => j.status === "done" && j.confirmedEpoch && j.indices.includes(0));
        return job && s.pieces.every((p) => p.state === "assigned") ? job : undefined;
      },
      () => miner.output(),
    );
    expect(getAddress((await slotOf(0)).provider)).to.not.equal(getAddress(victim));
    // From d = 3 helpers' sub-chunks: β / α = 2 / 4 of each piece (1.5 pieces, not k = 2), plus
    // one or two 32-byte roots per helper and stripe (this small file's sub-chunks are 1,016
    // bytes, so the roots add at most 3 %); the log names the method.
    const manifest = (await (await fetch(`${miner.url}/manifests/${stored.droot}`)).json()) as {
      coding?: { scheme: string; d: number };
      shareSize: number;
      pieces: { payloadSize: number }[];
    };
    expect(manifest.coding).to.deep.equal({ scheme: "clay", d: 3 });
    // Exactly d helpers × the plan's stream: per stripe β sub-chunks and the root blocks' roots
    // of the other α − β (α = 4, β = 2: the planes piece 0 needs, `clayRepairPlanes`).
    const subChunk = manifest.shareSize / 4;
    const stripes = manifest.pieces[0].payloadSize / manifest.shareSize;
    const plan = {
      shareSize: manifest.shareSize,
      subChunkSize: subChunk,
      planes: clayRepairPlanes(clayParams(2, 2, 3), 0),
      firstStripe: 0,
      stripes,
    };
    const { rootBlocks: blocks } = subChunkPlanGeometry(plan, manifest.pieces[0].payloadSize);
    expect(plan.planes).to.have.length(2);
    expect(blocks.length).to.be.within(1, 2);
    expect(done.bytesDownloaded).to.equal(3 * stripes * (2 * subChunk + blocks.length * 32));
    expect(done.bytesDownloaded / manifest.pieces[0].payloadSize).to.be.within(1.5, 1.6);
    expect(miner.output()).to.include("clay file: sub-chunks from d helpers");
    expect(done.method).to.equal("clay file: sub-chunks from d helpers");
    expect(miner.output()).to.not.include("sub-chunk repair impossible");
    const out = join(dir, "clay-back.bin");
    const back = await runCli([
      ...["client", "retrieve", stored.droot, "--out", out, "--key", devKey(READER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "reader-clay"), "--json"],
    ]);
    expect(back.code, back.stderr + back.stdout).to.equal(0);
    expect(sha256(await readFile(out))).to.equal(sha256(clay));
  });

  it("no live provider was ever late: the pacer never had to give up waiting for a proof", () => {
    console.log(`      pacer: ${pacer.mined} blocks mined, longest hold for a proof ${pacer.longestHoldMs} ms`);
    expect(pacer.timedOutHolds).to.deep.equal([]);
  });
});

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
