import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError } from "../../../actors-ts/core/errors";
import { silentLogger } from "../../../actors-ts/core/logger";
import { dealInfo } from "../../../actors-ts/chain/storage-market/reads";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import {
  DealStatusNotFoundError,
  StorageClient,
  type ClientEvent,
  type StoredDeal,
} from "../../../actors-ts/client/storage-client";
import { RetrievalClient, RetrievalNotFoundError } from "../../../actors-ts/client/retrieval/retrieval-client";
import { runCli } from "../../helpers/agents";
import { startInProcessMarket, type InProcessMarket } from "./in-process-market";

/** Issue 17 item 9 (seed 001's GetStorageDealStatus, GetRetrievalStatus, RegisterListener). */
describe("client status and listeners: getStatus, retrieval status, listeners across calls", function () {
  this.timeout(300_000);
  let market: InProcessMarket;
  let client: StorageClient;
  const deals: StoredDeal[] = [];
  const heard: ClientEvent[] = [];

  before(async () => {
    market = await startInProcessMarket(2);
    const { clients, contracts, store } = market;
    client = new StorageClient({ clients, contracts, store, logger: silentLogger });
  });

  after(async () => {
    await market?.close();
  });

  async function storeRandom(name: string, bytes = 3000): Promise<StoredDeal> {
    const file = join(market.dir, name);
    await writeFile(file, randomBytes(bytes));
    return client.storeFile(file, { provider: market.providers[0], durationEpochs: 2000n, startDelayEpochs: 80n });
  }

  it("a listener registered once hears two stores; a throwing one breaks nothing; unsubscribe stops it", async () => {
    const unsubscribe = client.subscribe((e) => heard.push(e));
    client.subscribe(() => {
      throw new Error("listener bug");
    });
    deals.push(await storeRandom("a.bin"), await storeRandom("b.bin"));
    const published = heard.flatMap((e) => (e.kind === "store" && e.progress.stage === "published" ? [e] : []));
    expect(published.map((e) => e.filePath)).to.deep.equal([join(market.dir, "a.bin"), join(market.dir, "b.bin")]);
    expect(published.map((e) => (e.progress.stage === "published" ? e.progress.dealId : 0n))).to.deep.equal(
      deals.map((d) => d.dealId),
    );
    for (const file of ["a.bin", "b.bin"]) {
      const stages = heard.filter((e) => e.kind === "store" && e.filePath === join(market.dir, file));
      expect(
        stages.map((e) => (e.kind === "store" ? e.progress.stage : "")).filter((s) => s !== "upload"),
      ).to.include.members(["commp", "escrow", "proposed", "uploaded", "published"]);
    }
    unsubscribe();
    const later: ClientEvent[] = [];
    client.subscribe((e) => later.push(e));
    const before = heard.length;
    const renewed = await client.extendDeal(deals[0].dealId, 100n);
    expect(heard.length).to.equal(before);
    expect(later).to.deep.equal([
      { kind: "extend", dealId: deals[0].dealId, endEpoch: renewed.endEpoch, txHash: renewed.txHash },
    ]);
  });

  it("getStatus of a direct deal gives the chain's fields and the client's row", async () => {
    const deal = deals[1];
    const status = await client.getStatus(String(deal.dealId));
    if (status.kind !== "direct" || !status.chain || !status.local) throw new Error(`unexpected ${status.kind}`);
    const info = await dealInfo(market.clients, market.contracts, deal.dealId);
    expect(status.chain.state).to.equal(info.stateName).and.to.equal("Published");
    expect(status.chain).to.include({
      closed: info.closed,
      provider: info.provider,
      pieceSize: info.pieceSize,
      endEpoch: info.endEpoch,
      startEpoch: deal.proposal.startEpoch,
      storagePricePerEpoch: deal.proposal.storagePricePerEpoch,
      pieceCommitment: deal.proposal.pieceCid,
      consecutiveFaults: 0,
      publishTxHash: deal.txHash,
    });
    expect(status.local).to.include({
      proposalHash: deal.proposalHash,
      pieceCid: deal.pieceCid,
      filePath: join(market.dir, "b.bin"),
      status: "published",
    });
    expect(status.local.storedAt).to.be.within(Date.now() - 600_000, Date.now());
    expect(status.headEpoch).to.equal(await market.clients.public.getBlockNumber());
    // The renewed deal: its end moved, the chain and the local proposal agree.
    const renewed = await client.getStatus(String(deals[0].dealId));
    if (renewed.kind !== "direct" || !renewed.chain || !renewed.local) throw new Error("no renewed deal");
    expect(renewed.chain.endEpoch).to.equal(deals[0].proposal.endEpoch + 100n);
    expect(renewed.local.proposal.endEpoch).to.equal(renewed.chain.endEpoch);
  });

  it("getStatus refuses a malformed target and names an unknown one", async () => {
    for (const bad of ["nope", "0", "-3", "0x1234"]) {
      const err = await client.getStatus(bad).catch((e: unknown) => e);
      expect(err, bad).to.be.instanceOf(InvalidArgumentError);
    }
    for (const unknown of ["999999", `0x${"ab".repeat(32)}`]) {
      const err = await client.getStatus(unknown).catch((e: unknown) => e);
      expect(err, unknown).to.be.instanceOf(DealStatusNotFoundError);
    }
  });

  it("getStatus of an erasure-coded droot gives the manifest and every piece's direct deal", async () => {
    const file = join(market.dir, "coded.bin");
    await writeFile(file, randomBytes(5000));
    const pool = new ErasurePool(1);
    try {
      const stored = await client.storeErasureCoded(
        file,
        { k: 1, m: 1, providers: market.providers, workDir: join(market.dir, "work"), pool },
        { durationEpochs: 2000n, startDelayEpochs: 80n },
      );
      const status = await client.getStatus(stored.droot.toUpperCase().replace("0X", "0x"));
      if (status.kind !== "file" || !status.local) throw new Error(`unexpected ${status.kind}`);
      expect(status.droot).to.equal(stored.droot.toLowerCase());
      expect(status.local).to.include({ k: 1, m: 1, fileSize: 5000 });
      expect(status.repairDeals).to.deep.equal([]);
      expect(status.pieceDeals.map((d) => d.dealId).sort()).to.deep.equal(stored.deals.map((d) => d.dealId).sort());
      expect(status.pieceDeals.map((d) => d.chain?.state)).to.deep.equal(["Published", "Published"]);
      expect(new Set(status.pieceDeals.map((d) => d.chain?.provider))).to.deep.equal(new Set(market.providers));
    } finally {
      await pool.close();
    }
  });

  it("RetrievalClient gives a retrieval's status by id, and its events reach the listeners", async () => {
    const { clients, contracts, store } = market;
    const events = client.events;
    const heardRetrieval: ClientEvent[] = [];
    const unsubscribe = events.subscribe((e) => heardRetrieval.push(e));
    const retrieval = new RetrievalClient({
      clients,
      contracts,
      store,
      logger: silentLogger,
      workDir: join(market.dir, "retrieve-work"),
      events,
    });
    const deal = deals[1];
    const out = join(market.dir, "b.out");
    const result = await retrieval.retrievePiece(deal.pieceCid, deal.provider, out);
    unsubscribe();
    expect(await readFile(out)).to.deep.equal(await readFile(join(market.dir, "b.bin")));
    const status = retrieval.getRetrievalStatus(result.retrievalId);
    expect(status).to.include({ id: result.retrievalId, kind: "piece", state: "completed", bytesReceived: 3000 });
    expect(status.paid).to.equal(result.paid).and.to.be.greaterThan(0n);
    expect(status.fetches).to.have.length(1);
    expect(status.fetches[0].provider.toLowerCase()).to.equal(deal.provider.toLowerCase());
    expect(status.fetches[0].channelId).to.be.a("bigint");
    expect(status.fetches[0].paid).to.equal(result.paid);
    expect(status.events).to.deep.equal(result.events);
    expect(heardRetrieval.map((e) => (e.kind === "retrieve" ? e.line : e.kind))).to.deep.equal(result.events);
    expect(() => retrieval.getRetrievalStatus("no-such-id")).to.throw(RetrievalNotFoundError);
  });

  it("`client status` prints the status object with --json and aligned lines without", async () => {
    const deal = deals[1];
    const args = [
      ...["--key", market.clientKey, "--rpc", market.rpcUrl, "--deployment", market.deploymentDir],
      ...["--data-dir", market.clientDir],
    ];
    const json = await runCli(["client", "status", String(deal.dealId), ...args, "--json"]);
    expect(json.code, json.stderr + json.stdout).to.equal(0);
    const body = JSON.parse(json.stdout) as {
      ok: boolean;
      kind: string;
      dealId: string;
      chain: { state: string; provider: string; endEpoch: string };
      local: { filePath: string; proposalHash: string };
    };
    expect(body).to.include({ ok: true, kind: "direct", dealId: deal.dealId.toString() });
    expect(body.chain.state).to.equal("Published");
    expect(body.chain.endEpoch).to.equal(deal.proposal.endEpoch.toString());
    expect(body.local).to.include({ filePath: join(market.dir, "b.bin"), proposalHash: deal.proposalHash });
    const human = await runCli(["client", "status", String(deal.dealId), ...args]);
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.match(new RegExp(`^deal +${deal.dealId}\\nstate +Published\\n`));
    const bad = await runCli(["client", "status", "not-a-target", ...args, "--json"]);
    expect(bad.code).to.equal(1);
    expect((JSON.parse(bad.stdout) as { error: { name: string } }).error.name).to.equal("InvalidArgumentError");
  });
});
