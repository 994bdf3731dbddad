import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { request } from "undici";
import type { Devnet } from "../helpers/devnet";
import { waitFor as waitUntil } from "../helpers/wait";
import { newestDataSetInfo } from "../helpers/data-sets";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { storageMarketAbi } from "../../actors-ts/chain/generated/abis";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import { addBalance } from "../../actors-ts/chain/storage-market/add-balance";
import { signProposal } from "../../actors-ts/chain/storage-market/proposals";
import { signRequest, sha256Hex } from "../../actors-ts/core/signed-request";
import { commpOfBytes } from "../../actors-ts/piece";
import type { StorageDealProposal } from "../../actors-ts/chain/eip712";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";

const TOKENS = 10n ** 21n;
/** A second client (dev account), for pieces two clients share. */
const OTHER_CLIENT = 3;

let diagnostics: () => string = () => "";

function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return waitUntil(what, timeoutMs, probe, diagnostics);
}

describe("provider daemon + client CLI: a direct deal end to end", function () {
  this.timeout(240_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let dir: string;
  let deployment: Deployment;
  let provider: DaemonProcess;
  let providerArgs: string[];
  const clientKey = devKey(1);
  const providerAddress = devAddress(2);
  const firstDeal: { dealId?: bigint; pieceCid?: string; bytes?: Buffer } = {};
  const bigDeal: { dealId?: bigint; root?: Hex } = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-provider-"));
    // Mined by a pacer: the provider is never late for a period while it is merely slow.
    devnet = await startPacedDevnet(250);
    deployment = await deployTo(devnet, join(dir, "deployments"), {
      provingPeriodEpochs: 20,
      challengeWindowEpochs: 10,
    });
    devnet.pacer.setMarket(deployment.contracts.StorageMarket as Address);
    devnet.pacer.watch(providerAddress);
    await fundTokens(devnet, deployment, [devAddress(1), devAddress(OTHER_CLIENT), providerAddress], TOKENS);
    providerArgs = [
      ...["--data-dir", join(dir, "provider"), "--key", devKey(2), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--prove-interval-ms", "200", "--publish-interval-ms", "300"],
      ...["--settle-interval-ms", "1500", "--scrub-interval-ms", "1000", "--deep-scrub-every", "1"],
    ];
    provider = await startDaemon("provider", ["--port", "0", ...providerArgs]);
    diagnostics = () => provider.output();
  });

  function cliArgs(key: string = clientKey, dataDir = join(dir, "client")): string[] {
    return [
      ...["--key", key, "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", dataDir, "--json"],
    ];
  }

  function chain() {
    return createPublicClient({ transport: http(devnet.rpcUrl) });
  }

  async function dealPublishedCount(): Promise<number> {
    const logs = await chain().getContractEvents({
      address: deployment.contracts.StorageMarket as Address,
      abi: storageMarketAbi,
      eventName: "DealPublished",
      fromBlock: 0n,
    });
    return logs.length;
  }

  after(async () => {
    await provider?.stop();
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores a file, the deal is published, proven for several periods and paid to the provider", async () => {
    const file = join(dir, "hello.bin");
    firstDeal.bytes = randomBytes(300_000);
    await writeFile(file, firstDeal.bytes);
    const result = await runCli([
      "client",
      "store",
      file,
      "--provider",
      providerAddress,
      "--duration",
      // Long enough to outlast the suite (deals are faulted on purpose at its end), in epochs.
      "4000",
      "--start-delay",
      "80",
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
    firstDeal.dealId = dealId;
    firstDeal.pieceCid = stored.pieceCid;
    expect(dealId).to.be.greaterThan(0n);
    expect(stored.pieceCid).to.match(/^bafkzcib/);

    const chain = createPublicClient({ transport: http(devnet.rpcUrl) });
    const market = deployment.contracts.StorageMarket as Address;
    await waitFor("three proven periods", 120_000, async () => {
      const set = await newestDataSetInfo(chain, market, providerAddress);
      return set.provenPeriods >= 3 ? set : undefined;
    });
    const info = await chain.readContract({
      address: market,
      abi: storageMarketAbi,
      functionName: "dealInfo",
      args: [dealId],
    });
    expect(info.state).to.equal(2); // Active
    const payments = await waitFor("a settlement paying the provider", 120_000, async () => {
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

  it("gives the client its own piece back, byte for byte", async () => {
    const out = join(dir, "back.bin");
    const result = await runCli(["client", "retrieve", firstDeal.pieceCid as string, "--out", out, ...cliArgs()]);
    expect(result.code, result.stderr + result.stdout).to.equal(0);
    expect((await readFile(out)).equals(firstDeal.bytes as Buffer)).to.equal(true);
    const listed = await runCli(["client", "deals", ...cliArgs()]);
    const deals = JSON.parse(listed.stdout) as { dealId: string; state: string }[];
    expect(deals.map((d) => d.dealId)).to.include((firstDeal.dealId as bigint).toString());
  });

  it("renews the deal (client extend): a later end on chain, the extra price locked, the provider proves it on", async () => {
    const dealId = firstDeal.dealId as bigint;
    const market = deployment.contracts.StorageMarket as Address;
    const read = (id: bigint) =>
      chain().readContract({ address: market, abi: storageMarketAbi, functionName: "dealInfo", args: [id] });
    const before = await read(dealId);
    // Someone other than the client may not extend it.
    const stranger = await runCli([
      "client",
      "extend",
      dealId.toString(),
      "--duration",
      "500",
      ...cliArgs(devKey(5), join(dir, "stranger")),
    ]);
    expect(stranger.code).to.not.equal(0);
    expect(stranger.stderr + stranger.stdout).to.match(/not one of this client's published direct deals/);
    const renewed = await runCli(["client", "extend", dealId.toString(), "--duration", "500", ...cliArgs()]);
    expect(renewed.code, renewed.stderr + renewed.stdout).to.equal(0);
    const result = JSON.parse(renewed.stdout) as { endEpoch: string; txHash: Hex };
    expect(BigInt(result.endEpoch)).to.equal(before.endEpoch + 500n);
    const after = await read(dealId);
    expect([after.endEpoch, after.dataSetId, after.pieceIndex]).to.deep.equal([
      before.endEpoch + 500n,
      before.dataSetId,
      before.pieceIndex,
    ]);
    const [extendedEvent] = await chain().getContractEvents({
      address: market,
      abi: storageMarketAbi,
      eventName: "DealExtended",
      args: { dealId },
      fromBlock: 0n,
    });
    expect(extendedEvent?.transactionHash).to.equal(result.txHash);
    const [published] = await chain().getContractEvents({
      address: market,
      abi: storageMarketAbi,
      eventName: "DealPublished",
      args: { dealId },
      fromBlock: 0n,
    });
    const price = published?.args.proposal?.storagePricePerEpoch ?? 0n;
    expect(price).to.be.greaterThan(0n);
    expect(extendedEvent?.args.newEndEpoch).to.equal(before.endEpoch + 500n);
    expect(extendedEvent?.args.extraLocked).to.equal(price * 500n);
    // The provider proves on with the new terms: two more proven periods for its data set.
    const proven = async () =>
      (
        await chain().readContract({
          address: market,
          abi: storageMarketAbi,
          functionName: "dataSetInfo",
          args: [after.dataSetId],
        })
      ).provenPeriods;
    const start = await proven();
    await waitUntil(
      "two proven periods after the renewal",
      120_000,
      async () => ((await proven()) >= start + 2 ? true : undefined),
      () => provider.output(),
    );
  });

  describe("bad inputs get clear errors and nothing is stored or published", () => {
    const account = privateKeyToAccount(devKey(1));
    let proposalHash: Hex;
    let payload: Buffer;

    async function send(
      method: "POST" | "PUT" | "GET",
      path: string,
      body: Buffer | string | undefined,
      headers: Record<string, string>,
    ): Promise<{ status: number; json: Record<string, unknown> }> {
      const res = await request(provider.url + path, { method, body, headers });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    }

    before(async () => {
      payload = randomBytes(5000);
      const clients = await connectChain(devnet.rpcUrl, account);
      const contracts = contractsOf(deployment);
      const commitment = commpOfBytes(payload);
      const latest = await clients.public.getBlockNumber();
      const proposal: StorageDealProposal = {
        pieceCid: toHex(commitment.root),
        pieceSize: BigInt(commitment.paddedSize),
        payloadSize: BigInt(payload.length),
        client: account.address,
        provider: providerAddress,
        label: commitment.pieceCid,
        startEpoch: latest + 200n,
        endEpoch: latest + 400n,
        // The provider's ask (1 per payload byte, collateral 1 per payload byte).
        storagePricePerEpoch: BigInt(payload.length),
        providerCollateral: BigInt(payload.length),
        clientCollateral: 0n,
        nonce: 424242n,
      };
      await addBalance(clients, contracts, account.address, proposal.storagePricePerEpoch * 200n);
      const body = JSON.stringify(
        {
          proposal,
          clientSignature: await signProposal(account, 31337, contracts.storageMarket, proposal),
          pieceCidV2: commitment.pieceCid,
        },
        (_k, v) => (typeof v === "bigint" ? v.toString() : v),
      );
      const headers = await signRequest(account, {
        method: "POST",
        path: "/deals/proposals",
        body,
        audience: providerAddress,
      });
      const accepted = await send("POST", "/deals/proposals", body, { ...headers, "content-type": "application/json" });
      expect(accepted.status, JSON.stringify(accepted.json)).to.equal(200);
      proposalHash = accepted.json.proposalHash as Hex;
      // The same signed request again is a replay.
      const replay = await send("POST", "/deals/proposals", body, { ...headers, "content-type": "application/json" });
      expect(replay.status).to.equal(401);
      expect(replay.json.error).to.equal("ReplayedNonce");
    });

    async function upload(bytes: Buffer, extra: Record<string, string> = {}, signer = account) {
      const path = `/deals/proposals/${proposalHash}/data`;
      const headers = await signRequest(signer, {
        method: "PUT",
        path,
        bodySha256: sha256Hex(bytes),
        audience: providerAddress,
      });
      return send("PUT", path, bytes, { ...headers, "content-type": "application/octet-stream", ...extra });
    }

    async function expectNothingKept(): Promise<void> {
      const status = await send("GET", `/deals/proposals/${proposalHash}`, undefined, {});
      expect(status.json.status).to.equal("accepted");
      const blobs = await readdir(join(dir, "provider", "pieces", "blobs"));
      expect(blobs).to.not.include(toHex(commpOfBytes(payload).root));
      expect(await readdir(join(dir, "provider", "pieces", "tmp"))).to.deep.equal([]);
    }

    it("rejects bytes that do not hash to the proposal's pieceCid (422)", async () => {
      const before = await dealPublishedCount();
      const wrong = await upload(randomBytes(payload.length));
      expect(wrong.status).to.equal(422);
      expect(wrong.json.error).to.equal("PieceCommitmentMismatch");
      await expectNothingKept();
      expect(await dealPublishedCount()).to.equal(before);
    });

    it("rejects a body whose length is not the piece's (400)", async () => {
      const short = await upload(payload.subarray(0, 100));
      expect(short.status).to.equal(400);
      expect(short.json.error).to.equal("WrongPieceSize");
      await expectNothingKept();
    });

    it("drops a truncated upload", async () => {
      const path = `/deals/proposals/${proposalHash}/data`;
      const headers = await signRequest(account, {
        method: "PUT",
        path,
        bodySha256: sha256Hex(payload),
        audience: providerAddress,
      });
      const { Readable } = await import("node:stream");
      const half = Readable.from(
        (async function* () {
          yield payload.subarray(0, 2000);
          await new Promise((r) => setTimeout(r, 200));
          throw new Error("client went away");
        })(),
      );
      await request(provider.url + path, {
        method: "PUT",
        body: half,
        headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(payload.length) },
      }).catch(() => undefined);
      // Wait for the provider to have seen the upload break (its own count of aborted uploads),
      // not for a fixed time that a loaded machine may not honour.
      await waitUntil(
        "the provider to count the broken upload (aborted or truncated)",
        60_000,
        async () => {
          const metrics = await (await fetch(`${provider.url}/metrics`)).text();
          return /rm_provider_uploads_total\{result="(aborted|TruncatedUpload)"\} [1-9]/.test(metrics)
            ? true
            : undefined;
        },
        () => provider.output(),
      );
      await expectNothingKept();
    });

    it("rejects a bad signature and a tampered body (401)", async () => {
      const other = privateKeyToAccount(devKey(5));
      const path = `/deals/proposals/${proposalHash}/data`;
      const forged = await signRequest(other, {
        method: "PUT",
        path,
        bodySha256: sha256Hex(payload),
        audience: providerAddress,
      });
      forged["x-rm-address"] = account.address;
      const bad = await send("PUT", path, payload, { ...forged, "content-type": "application/octet-stream" });
      expect(bad.status).to.equal(401);
      expect(bad.json.error).to.equal("BadSignature");
      const notSubmitter = await upload(payload, {}, other);
      expect(notSubmitter.status).to.equal(403);
      const tampered = await upload(payload, { "x-rm-body-sha256": sha256Hex(randomBytes(8)) });
      expect(tampered.status).to.equal(401);
      await expectNothingKept();
    });

    it("refuses an oversized JSON body (413) and unsigned requests (401)", async () => {
      const huge = JSON.stringify({ junk: "x".repeat(300 * 1024) });
      const headers = await signRequest(account, {
        method: "POST",
        path: "/deals/proposals",
        body: huge,
        audience: providerAddress,
      });
      const tooBig = await send("POST", "/deals/proposals", huge, { ...headers, "content-type": "application/json" });
      expect(tooBig.status).to.equal(413);
      const unsigned = await send("POST", "/deals/proposals", "{}", { "content-type": "application/json" });
      expect(unsigned.status).to.equal(401);
      expect(unsigned.json.error).to.equal("MissingHeaders");
    });

    it("still takes the right bytes afterwards", async () => {
      const ok = await upload(payload);
      expect(ok.status, JSON.stringify(ok.json)).to.equal(200);
      expect(BigInt(ok.json.dealId as string)).to.be.greaterThan(0n);
    });
  });

  it("survives kill -9 mid-upload: the client's retry completes and no partial piece is kept", async () => {
    const file = join(dir, "big.bin");
    const bytes = randomBytes(6 * 1024 * 1024);
    await writeFile(file, bytes);
    const port = new URL(provider.url).port;
    const store = runCli([
      "client",
      "store",
      file,
      "--provider",
      providerAddress,
      "--duration",
      "4000",
      "--start-delay",
      "150",
      "--max-upload-rate",
      "1500000",
      ...cliArgs(),
    ]);
    const tmp = join(dir, "provider", "pieces", "tmp");
    await waitFor("a partial upload on the provider", 180_000, async () => {
      for (const name of await readdir(tmp)) {
        if ((await stat(join(tmp, name))).size > 1_000_000) return true;
      }
      return undefined;
    });
    await provider.kill9();
    const committed = await readdir(join(dir, "provider", "pieces", "blobs"));
    expect(committed).to.not.include(toHex(commpOfBytes(bytes).root));
    provider = await startDaemon("provider", ["--port", port, ...providerArgs]);
    expect(
      await readdir(tmp).then((names) => names.filter((n) => n.endsWith(".part") && n !== "")),
    ).to.have.length.lessThan(2);
    const result = await store;
    expect(result.code, result.stderr + result.stdout).to.equal(0);
    const stored = JSON.parse(result.stdout) as { dealId: string; events: { stage: string }[] };
    expect(stored.events.some((e) => e.stage === "retry")).to.equal(true);
    bigDeal.dealId = BigInt(stored.dealId);
    bigDeal.root = toHex(commpOfBytes(bytes).root);
    const out = join(dir, "big-back.bin");
    const back = await runCli(["client", "retrieve", commpOfBytes(bytes).pieceCid, "--out", out, ...cliArgs()]);
    expect(back.code, back.stderr).to.equal(0);
    expect((await readFile(out)).equals(bytes)).to.equal(true);
  });

  it("a provider that takes the bytes and never publishes is held to the deal: the client publishes it with the provider's acceptance", async () => {
    // A second provider that signs its acceptance once it holds a piece but never publishes.
    const lazyKey = devKey(6);
    const lazyAddress = devAddress(6);
    await fundTokens(devnet, deployment, [lazyAddress], TOKENS);
    // Its operator keeps collateral in escrow (an acceptance is only as good as that).
    const lazyClients = await connectChain(devnet.rpcUrl, privateKeyToAccount(lazyKey));
    await addBalance(lazyClients, contractsOf(deployment), lazyAddress, 10n ** 18n);
    const lazyArgs = [
      ...["--data-dir", join(dir, "lazy"), "--key", lazyKey, "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--prove-interval-ms", "200", "--publish-interval-ms", "300"],
    ];
    let lazy = await startDaemon("provider", ["--port", "0", ...lazyArgs, "--fault", "never-publish"]);
    try {
      const file = join(dir, "lazy.bin");
      await writeFile(file, randomBytes(40_000));
      const result = await runCli([
        "client",
        "store",
        file,
        ...["--provider", lazyAddress, "--duration", "4000", "--start-delay", "80", "--self-publish-after", "1000"],
        ...cliArgs(),
      ]);
      expect(result.code, result.stderr + result.stdout + lazy.output()).to.equal(0);
      const stored = JSON.parse(result.stdout) as { dealId: string; txHash: Hex; events: { stage: string }[] };
      expect(stored.events.map((e) => e.stage)).to.include("selfPublished");
      const dealId = BigInt(stored.dealId);
      // On chain: the client sent the publish; the deal is the lazy provider's, its collateral locked.
      const tx = await chain().getTransaction({ hash: stored.txHash });
      expect(tx.from.toLowerCase()).to.equal(devAddress(1).toLowerCase());
      const market = deployment.contracts.StorageMarket as Address;
      const read = () =>
        chain().readContract({ address: market, abi: storageMarketAbi, functionName: "dealInfo", args: [dealId] });
      expect((await read()).provider.toLowerCase()).to.equal(lazyAddress.toLowerCase());
      const [, locked] = await chain().readContract({
        address: market,
        abi: storageMarketAbi,
        functionName: "balanceOf",
        args: [lazyAddress],
      });
      expect(locked).to.be.greaterThan(0n);
      // The provider comes back behaving: its next publish round finds the deal already on chain
      // (nonce used), takes it as its own and proves it.
      await lazy.stop();
      lazy = await startDaemon("provider", ["--port", "0", ...lazyArgs]);
      devnet.pacer.watch(lazyAddress);
      await waitUntil(
        "the client-published deal proven by its provider",
        150_000,
        async () => ((await read()).state === 2 ? true : undefined),
        () => lazy.output(),
      );
    } finally {
      // Released first: a stopped provider's windows must not hold the chain for later tests.
      devnet.pacer.release(lazyAddress);
      await lazy.stop();
    }
  });

  it("refuses a 0-byte file with one clear line, and nothing reaches the provider", async () => {
    const empty = join(dir, "empty.bin");
    await writeFile(empty, Buffer.alloc(0));
    const before = await dealPublishedCount();
    const r = await runCli([
      "client",
      "store",
      empty,
      "--provider",
      providerAddress,
      "--duration",
      "400",
      ...cliArgs(),
    ]);
    expect(r.code).to.not.equal(0);
    expect(r.stderr + r.stdout).to.include("is empty (0 bytes): there is nothing to store");
    expect(await dealPublishedCount()).to.equal(before);
  });

  it("two clients' deals on one piece root (the same bytes, and a copy with trailing zeros): one ends, the other is still proven and served", async () => {
    // Payloads with the same root differ only by trailing zeros; the provider keeps one blob.
    const base = randomBytes(900);
    const longer = Buffer.concat([base, Buffer.alloc(100)]);
    expect(toHex(commpOfBytes(base).root)).to.equal(toHex(commpOfBytes(longer).root));
    expect(commpOfBytes(base).pieceCid).to.not.equal(commpOfBytes(longer).pieceCid);
    await writeFile(join(dir, "short.bin"), base);
    await writeFile(join(dir, "longer.bin"), longer);
    const other = [
      ...["--key", devKey(OTHER_CLIENT), "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "other-client"), "--json"],
    ];
    // The other client's deal on the shorter payload is short; ours on the longer one is long.
    const short = await runCli([
      ...["client", "store", join(dir, "short.bin"), "--provider", providerAddress],
      ...["--duration", "60", "--start-delay", "80", ...other],
    ]);
    expect(short.code, short.stderr + short.stdout).to.equal(0);
    const long = await runCli([
      ...["client", "store", join(dir, "longer.bin"), "--provider", providerAddress],
      ...["--duration", "4000", "--start-delay", "80", ...cliArgs()],
    ]);
    expect(long.code, long.stderr + long.stdout).to.equal(0);
    const shortDeal = JSON.parse(short.stdout) as { dealId: string; pieceCid: string };
    const longDeal = JSON.parse(long.stdout) as { dealId: string; pieceCid: string };
    // Each client reads its own piece back at its own length.
    const readBack = async (pieceCid: string, args: string[], name: string) => {
      const out = join(dir, name);
      const r = await runCli(["client", "retrieve", pieceCid, "--out", out, ...args]);
      expect(r.code, r.stderr + r.stdout).to.equal(0);
      return readFile(out);
    };
    expect((await readBack(shortDeal.pieceCid, other, "short-back.bin")).equals(base)).to.equal(true);
    expect((await readBack(longDeal.pieceCid, cliArgs(), "longer-back-1.bin")).equals(longer)).to.equal(true);
    // The short deal runs out and is settled closed; the shared piece stays for the other deal.
    const market = deployment.contracts.StorageMarket as Address;
    await waitUntil(
      `deal ${shortDeal.dealId} to expire and close`,
      180_000,
      async () => {
        const logs = await chain().getContractEvents({
          address: market,
          abi: storageMarketAbi,
          eventName: "DealClosed",
          args: { dealId: BigInt(shortDeal.dealId) },
          fromBlock: 0n,
        });
        return logs[0];
      },
      () => provider.output(),
    );
    const proven = async () => (await newestDataSetInfo(chain(), market, providerAddress)).provenPeriods;
    const before = await proven();
    await waitUntil("two more proven periods after the close", 120_000, async () =>
      (await proven()) >= before + 2 ? true : undefined,
    );
    const info = await chain().readContract({
      address: market,
      abi: storageMarketAbi,
      functionName: "dealInfo",
      args: [BigInt(longDeal.dealId)],
    });
    expect(info.state).to.equal(2); // Active
    expect((await readBack(longDeal.pieceCid, cliArgs(), "longer-back-2.bin")).equals(longer)).to.equal(true);
  });

  it("declares faults on chain when a stored piece is corrupted or deleted", async () => {
    // The provider cannot prove these pieces any more: its periods may go unproven.
    devnet.pacer.release(providerAddress);
    const blobs = join(dir, "provider", "pieces", "blobs");
    const root = toHex(commpOfBytes(firstDeal.bytes as Buffer).root);
    const data = await readFile(join(blobs, root));
    data[1234] ^= 0xff;
    await writeFile(join(blobs, root), data);
    await rm(join(blobs, bigDeal.root as Hex));
    const market = deployment.contracts.StorageMarket as Address;
    for (const dealId of [firstDeal.dealId as bigint, bigDeal.dealId as bigint]) {
      const closed = await waitFor(`DealClosed(FaultDeclared) for deal ${dealId}`, 90_000, async () => {
        const logs = await chain().getContractEvents({
          address: market,
          abi: storageMarketAbi,
          eventName: "DealClosed",
          args: { dealId },
          fromBlock: 0n,
        });
        return logs[0];
      });
      expect(closed.args.reason).to.equal(1); // FaultDeclared
      const info = await chain().readContract({
        address: market,
        abi: storageMarketAbi,
        functionName: "dealInfo",
        args: [dealId],
      });
      expect(info.state).to.equal(4); // Terminated
    }
  });
});
