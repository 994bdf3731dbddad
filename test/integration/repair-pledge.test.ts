import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex, type Hex } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { request } from "undici";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";
import type { Devnet } from "../helpers/devnet";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import { connectChain, type ChainClients } from "../../actors-ts/chain/clients";
import { contractsOf, type MarketContracts } from "../../actors-ts/chain/contracts";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { repairMarketAbi } from "../../actors-ts/chain/generated/abis";
import { addBid, signDealAuthorization } from "../../actors-ts/chain/repair-market/actions";
import { getBid, getMiner } from "../../actors-ts/chain/repair-market/reads";
import { tokenBalance } from "../../actors-ts/chain/token/approve";
import { signRequest } from "../../actors-ts/core/signed-request";
import { ErasurePool } from "../../actors-ts/erasure/erasure-pool";
import { chooseShareSize, encodedPayloadBytesOfFile, fileLayout } from "../../actors-ts/erasure/layout";
import { encodedPayloadBytes, manifestDroot, type Manifest } from "../../actors-ts/manifest/manifest";
import { prepareFile } from "../../actors-ts/manifest/prepare";
import { pieceGeometry } from "../../actors-ts/piece/commp";
import { toPieceCidV2 } from "../../actors-ts/piece/piece-cid";
import { REPAIR_PATHS, repairInfoResponseSchema, type RepairInfoResponse } from "../../actors-ts/protocol/repair-api";

const CLIENT = 1;
const GRIEFER = 2;
/** A miner that never tops up (the default). */
const STRICT = 12;
/** A miner started with --auto-pledge and a --max-pledge cap. */
const AUTO = 13;
const K = 4;
const M = 2;
/** File sizes, bytes: the honest stores, the griefer's accepted and refused files, the race's files. */
const HONEST_BYTES = 200_000;
const RACE_BYTES = 300_000;

/**
 * A repair miner's pledge against the bids it takes (issue "Data at wire speed": big files).
 * RepairMarket counts a deal's power as its pieces' payload bytes and wants pledgePerByte of
 * pledge for every byte a miner manages. A miner refuses, at the proposal and before any byte is
 * uploaded, a bid its pledge does not cover, saying how much it has, how much it needs and the
 * command that adds it; started with --auto-pledge it tops the pledge up at the commit by exactly
 * the shortfall and never past --max-pledge. Small files and tiny pledges provoke the shortfall.
 */
describe("repair miner: pledge checked at the proposal, topped up at the commit within a cap", function () {
  this.timeout(300_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let dir: string;
  let deployment: Deployment;
  let contracts: MarketContracts;
  let perByte: bigint;
  const miners = new Map<number, DaemonProcess>();
  /** The auto miner's cap: its first deal, then room for one race file and a half, never two. */
  let maxPledge: bigint;

  const chainOf = (n: number): Promise<ChainClients> => connectChain(devnet.rpcUrl, privateKeyToAccount(devKey(n)));
  const cliChain = () => ["--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")];
  const minerOf = (n: number): DaemonProcess => miners.get(n) as DaemonProcess;
  async function info(n: number): Promise<RepairInfoResponse> {
    return repairInfoResponseSchema.parse(await (await request(minerOf(n).url + REPAIR_PATHS.info)).body.json());
  }
  async function minerState(n: number) {
    return getMiner(await chainOf(CLIENT), contracts, BigInt((await info(n)).minerId));
  }
  async function counts() {
    const [, , bids, deals] = await (
      await chainOf(CLIENT)
    ).public.readContract({ address: contracts.repairMarket, abi: repairMarketAbi, functionName: "counts" });
    return { bids, deals };
  }
  async function pledgesAdded(n: number): Promise<bigint[]> {
    const clients = await chainOf(CLIENT);
    const logs = await clients.public.getContractEvents({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      eventName: "PledgeAdded",
      args: { minerId: BigInt((await info(n)).minerId) },
      fromBlock: 0n,
    });
    return logs.map((l) => l.args.amount ?? 0n);
  }
  const blobsOf = (n: number) => {
    const blobs = join(dir, `miner-${n}`, "pieces", "blobs");
    return existsSync(blobs) ? readdirSync(blobs) : [];
  };
  const storeArgs = (file: string, miner: number) => [
    ...["client", "store", file, "--repair", "--k", String(K), "--m", String(M)],
    ...["--code", "rs", "--miner", devAddress(miner)],
    ...["--key", devKey(CLIENT), ...cliChain(), "--data-dir", join(dir, "client")],
  ];

  async function startMiner(n: number, pledgeBytes: bigint, extra: string[] = []): Promise<void> {
    miners.set(
      n,
      await startDaemon("repair", [
        ...["--port", "0", "--data-dir", join(dir, `miner-${n}`), "--key", devKey(n), ...cliChain()],
        ...["--pledge", (pledgeBytes * perByte).toString(), "--watch-interval-ms", "1000", "--confirmations", "1"],
        ...["--work-interval-ms", "1000", "--claim-interval-ms", "600000", "--withdraw-interval-ms", "0", ...extra],
      ]),
    );
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-pledge-"));
    devnet = await startPacedDevnet(200);
    deployment = await deployTo(devnet, join(dir, "deployments"));
    contracts = contractsOf(deployment);
    perByte = BigInt(deployment.repairParams.pledgePerByte);
    await fundTokens(devnet, deployment, [CLIENT, GRIEFER, STRICT, AUTO].map(devAddress), 10n ** 24n);
    const honest = encodedPayloadBytesOfFile(HONEST_BYTES, K, M);
    const race = encodedPayloadBytesOfFile(RACE_BYTES, K, M);
    maxPledge = (honest + race + race / 2n) * perByte;
    await Promise.all([
      startMiner(STRICT, 1_000n),
      startMiner(AUTO, 1_000n, ["--auto-pledge", "--max-pledge", maxPledge.toString()]),
    ]);
  });

  after(async () => {
    await Promise.all([...miners.values()].map((m) => m.stop()));
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a miner whose pledge is too small refuses the proposal in one clear line: nothing uploaded, the bid open, nothing on chain; the command it names makes the next store work", async () => {
    const file = join(dir, "strict.bin");
    await writeFile(file, randomBytes(HONEST_BYTES));
    const need = encodedPayloadBytesOfFile(HONEST_BYTES, K, M) * perByte;
    const before = await minerState(STRICT);
    const { bids, deals } = await counts();
    const refused = await runCli(storeArgs(file, STRICT));
    expect(refused.code, refused.stdout).to.equal(1);
    // Progress lines (encoded, bid), then the refusal as one error line.
    const lines = refused.stderr
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("error:"));
    expect(lines, refused.stderr).to.have.length(1);
    const shortfall = need - before.pledge;
    const bidId = bids + 1n;
    expect(lines[0]).to.match(/^error: repair miner \d+ \(0x[0-9a-fA-F]{40}\) cannot back this file: /);
    expect(lines[0]).to.include(
      `its pledge is ${before.pledge} token base units, the deal needs ${need} (${shortfall} short)`,
    );
    expect(lines[0]).to.include(`npx repair-market repair add-pledge ${shortfall} `);
    expect(lines[0]).to.include(`bid ${bidId} stays open until \`npx repair-market client cancel-bid ${bidId}\``);
    // Nothing uploaded, nothing pledged, no deal; the bid is still the client's.
    expect(blobsOf(STRICT)).to.deep.equal([]);
    const after = await minerState(STRICT);
    expect([after.pledge, after.powerBytes]).to.deep.equal([before.pledge, 0n]);
    expect((await counts()).deals).to.equal(deals);
    expect((await getBid(await chainOf(CLIENT), contracts, bidId)).state).to.equal(1); // Open

    // The owner runs the command the refusal names (with its key and chain); the same file is then taken.
    const command = /`npx repair-market (repair add-pledge [^`]+)`/.exec(lines[0])?.[1] ?? "";
    expect(command).to.equal(`repair add-pledge ${shortfall} --miner ${(await info(STRICT)).minerId}`);
    const added = await runCli([...command.split(" "), "--key", devKey(STRICT), ...cliChain()]);
    expect(added.code, added.stderr).to.equal(0);
    expect((await minerState(STRICT)).pledge).to.equal(need);
    const stored = await runCli([...storeArgs(file, STRICT), "--json"]);
    expect(stored.code, stored.stderr + stored.stdout).to.equal(0);
    const taken = await minerState(STRICT);
    expect([taken.pledge, taken.powerBytes]).to.deep.equal([need, need / perByte]);
    expect(await pledgesAdded(STRICT)).to.deep.equal([shortfall]); // the owner's, none by the daemon
  });

  it("with --auto-pledge the miner tops up at the commit by exactly the shortfall, and the deal is made", async () => {
    const file = join(dir, "auto.bin");
    await writeFile(file, randomBytes(HONEST_BYTES));
    const before = await minerState(AUTO);
    const need = encodedPayloadBytesOfFile(HONEST_BYTES, K, M);
    const worker = await tokenBalance(await chainOf(CLIENT), contracts.token, devAddress(AUTO));
    const stored = await runCli([...storeArgs(file, AUTO), "--json"]);
    expect(stored.code, stored.stderr + stored.stdout).to.equal(0);
    const after = await minerState(AUTO);
    const shortfall = need * perByte - before.pledge;
    expect(after.pledge - before.pledge).to.equal(shortfall);
    expect(after.powerBytes).to.equal(need);
    expect(after.pledge <= maxPledge).to.equal(true);
    expect(await pledgesAdded(AUTO)).to.deep.equal([shortfall]);
    // From the worker's own wallet (the daemon's worker owns its miner).
    expect(worker - (await tokenBalance(await chainOf(CLIENT), contracts.token, devAddress(AUTO)))).to.equal(shortfall);
  });

  it("a griefer proposing huge files it never uploads pledges nothing of the owner's, and one past the cap is refused at once", async () => {
    const griefer = privateKeyToAccount(devKey(GRIEFER));
    const clients = await chainOf(GRIEFER);
    const before = await minerState(AUTO);
    const wallet = await tokenBalance(clients, contracts.token, devAddress(AUTO));
    // The power the cap can still back: a proposal within it is accepted (and pledges nothing yet).
    const room = maxPledge / perByte - before.powerBytes;
    // Files whose encoded size fills the room the cap leaves: each alone could be taken.
    const fits = largestFileWithin(room);
    for (let i = 0; i < 4; i++) {
      const proposed = await bidAndPropose(clients, griefer, AUTO, fakeManifest(fits));
      expect(proposed.status, JSON.stringify(proposed.body)).to.equal(201);
    }
    const huge = fakeManifest(64 * 2 ** 20); // 64 MiB: about 96 MiB of power, far past the cap
    const refused = await bidAndPropose(clients, griefer, AUTO, huge);
    expect(refused.status, JSON.stringify(refused.body)).to.equal(409);
    expect(refused.body.error).to.equal("InsufficientPledge");
    const required = (before.powerBytes + encodedPayloadBytes(huge)) * perByte;
    expect(refused.body.details).to.deep.include({
      reason: "overCap",
      pledge: before.pledge.toString(),
      required: required.toString(),
      shortfall: (required - before.pledge).toString(),
      maxPledge: maxPledge.toString(),
    });
    expect((await getBid(clients, contracts, refused.bidId)).state).to.equal(1); // Open: the griefer's to cancel
    // Four proposals accepted and abandoned, one refused: not a token moved into pledge.
    const after = await minerState(AUTO);
    expect([after.pledge, after.powerBytes]).to.deep.equal([before.pledge, before.powerBytes]);
    expect(await tokenBalance(clients, contracts.token, devAddress(AUTO))).to.equal(wallet);
    expect((await pledgesAdded(AUTO)).length).to.equal(1);
  });

  it("two commits that each fit the cap but not together: one deal, the other refused at its commit, the pledge never past the cap", async () => {
    const client = privateKeyToAccount(devKey(CLIENT));
    const clients = await chainOf(CLIENT);
    const pool = new ErasurePool();
    const files = await Promise.all(
      ["race-a", "race-b"].map(async (name) => {
        await writeFile(join(dir, `${name}.bin`), randomBytes(RACE_BYTES));
        return prepareFile(join(dir, `${name}.bin`), { k: K, m: M, outDir: join(dir, name), pool });
      }),
    ).finally(() => pool.close());
    const before = await minerState(AUTO);
    const intakes = [];
    for (const f of files) {
      const proposed = await bidAndPropose(clients, client, AUTO, f.manifest);
      expect(proposed.status, JSON.stringify(proposed.body)).to.equal(201);
      const paths = proposed.body.uploadPaths as string[];
      for (const [i, path] of paths.entries()) {
        const up = await signedCall(client, AUTO, "PUT", path, await readFile(f.piecePaths[i]));
        expect(up.status, JSON.stringify(up.body)).to.equal(200);
      }
      intakes.push({ ...proposed, intakeId: proposed.body.intakeId as string });
    }
    const commits = await Promise.all(
      intakes.map((t) => signedCall(client, AUTO, "POST", REPAIR_PATHS.commit(t.intakeId), "{}")),
    );
    const statuses = commits.map((c) => c.status).sort();
    expect(statuses, JSON.stringify(commits.map((c) => c.body))).to.deep.equal([200, 409]);
    const loser = commits.findIndex((c) => c.status === 409);
    expect(commits[loser].body.error).to.equal("InsufficientPledge");
    expect(commits[loser].body.details).to.deep.include({ reason: "overCap", maxPledge: maxPledge.toString() });
    expect((await getBid(clients, contracts, intakes[loser].bidId)).state).to.equal(1); // Open
    const after = await minerState(AUTO);
    const race = encodedPayloadBytes(files[0].manifest);
    expect(after.powerBytes).to.equal(before.powerBytes + race);
    expect(after.pledge).to.equal(after.powerBytes * perByte); // topped up by exactly the shortfall
    expect(after.pledge <= maxPledge).to.equal(true);
  });

  /** A signed call to miner `n` as `account`: JSON for a string body, bytes for a Buffer. */
  async function signedCall(
    account: PrivateKeyAccount,
    n: number,
    method: "POST" | "PUT",
    path: string,
    body: string | Buffer,
  ) {
    const { worker } = await info(n);
    const signed =
      typeof body === "string"
        ? await signRequest(account, { method, path, body, audience: worker })
        : await signRequest(account, {
            method,
            path,
            bodySha256: createHash("sha256").update(body).digest("hex"),
            audience: worker,
          });
    const type = typeof body === "string" ? "application/json" : "application/octet-stream";
    const res = await request(minerOf(n).url + path, { method, headers: { ...signed, "content-type": type }, body });
    return {
      status: res.statusCode,
      body: (await res.body.json()) as Record<string, unknown> & { error?: string; details?: Record<string, unknown> },
    };
  }

  /** Posts a funded bid for `manifest` (one epoch, the miner's price) and proposes it to miner `n`. */
  async function bidAndPropose(clients: ChainClients, account: PrivateKeyAccount, n: number, manifest: Manifest) {
    const ask = await info(n);
    const head = await clients.public.getBlockNumber();
    const bid = await addBid(clients, contracts, {
      droot: manifest.droot,
      pricePerBytePerEpoch: BigInt(ask.pricePerBytePerEpoch),
      size: encodedPayloadBytes(manifest),
      durationEpochs: 1_000n,
      expiryEpoch: head + 1_000n,
      codingParams: { k: K, m: M, pieceSize: BigInt(manifest.pieces[0].paddedSize), scheme: 0, d: 0 },
    });
    const deadline = head + 500n;
    const auth = { bidId: bid.bidId, askId: BigInt(ask.askId), minerId: BigInt(ask.minerId), deadline };
    const clientSignature = await signDealAuthorization(account, clients.chain.id, contracts.repairMarket, auth);
    const body = JSON.stringify({
      bidId: bid.bidId.toString(),
      askId: ask.askId,
      deadline: deadline.toString(),
      clientSignature,
      manifest,
    });
    return { bidId: bid.bidId, ...(await signedCall(account, n, "POST", REPAIR_PATHS.proposals, body)) };
  }
});

/** A manifest for a file of `fileSize` bytes nobody has: random piece roots, consistent sizes, its droot. */
function fakeManifest(fileSize: number): Manifest {
  const shareSize = chooseShareSize(fileSize, K);
  const { pieceSize } = fileLayout(fileSize, K, M, shareSize);
  const pieces = Array.from({ length: K + M }, () => {
    const root = randomBytes(32);
    root[31] &= 0x3f; // a sha254 node
    return {
      pieceCid: toPieceCidV2(root, pieceSize),
      root: toHex(root),
      paddedSize: pieceGeometry(pieceSize).paddedSize,
      payloadSize: pieceSize,
    };
  });
  const body = { version: 1 as const, fileSize, fileSha256: toHex(randomBytes(32)), k: K, m: M, shareSize, pieces };
  return { ...body, droot: manifestDroot(body).root as Hex };
}

/** The largest file (to 1,000 bytes) whose k + m encoding is at most `powerBytes`. */
function largestFileWithin(powerBytes: bigint): number {
  let size = 1_000;
  while (encodedPayloadBytesOfFile(size + 1_000, K, M) <= powerBytes) size += 1_000;
  return size;
}
