import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { toHex, type Address, type Hex } from "viem";
import { listProviders, type RegisteredProvider } from "../chain/registry/reads";
import { describeCorrupt, type CorruptPiece, type FetchedPieces } from "../client/retrieval/file-retrieval";
import { FileRetriever } from "../client/retrieval/file-retriever";
import { rebuildPieces } from "../manifest/decode";
import { verifyManifest, type Manifest } from "../manifest/manifest";
import { verifyHoldings } from "../protocol/holdings";
import { pieceKey } from "../piece/piece-intake";
import type { RepairComponents } from "./components";
import type { RepairConfig } from "./config";
import type { RepairJobRow } from "./repair-store";
import { holdersOf, sourceOrder } from "./source-order";
import { PieceCommitmentMismatchError, PieceFetcher } from "../client/retrieval/piece-fetcher";
import { NotEnoughHelpersError, rebuildFromSubChunks } from "../client/retrieval/subchunk-repair";
import { clayParams } from "../erasure/clay";
import { getHoldings } from "../protocol/provider-client";

/**
 * What each provider advertises it holds (seed 002's epoch slots), kept current by asking for
 * the changes since the last sequence seen, falling back to a full snapshot.
 */
export class HoldingsIndex {
  private readonly held = new Map<Address, { seq: number; pieces: Set<string> }>();

  constructor(private readonly c: Pick<RepairComponents, "logger">) {}

  /** Refreshes every registered provider's advertisement (unreachable ones are forgotten). */
  async refresh(providers: RegisteredProvider[]): Promise<void> {
    await Promise.all(
      providers.map(async (p) => {
        const known = this.held.get(p.address);
        try {
          const signed = await getHoldings(p, known?.seq);
          const payload = await verifyHoldings(signed, p.address);
          const pieces = payload.since === null || !known ? new Set<string>() : known.pieces;
          for (const cid of payload.added) pieces.add(cid);
          for (const cid of payload.removed) pieces.delete(cid);
          this.held.set(p.address, { seq: payload.seq, pieces });
        } catch (err) {
          this.held.delete(p.address);
          this.c.logger.debug({ err, provider: p.address }, "no holdings advertisement");
        }
      }),
    );
  }

  /** Providers whose latest advertisement lists `pieceCid`. */
  advertisers(pieceCid: string): Address[] {
    return [...this.held].filter(([, h]) => h.pieces.has(pieceCid)).map(([a]) => a);
  }
}

/**
 * Runs repair jobs (seed 003, issue "Repair"), riskiest first: fewest healthy pieces, then the
 * deal that ends soonest, at most `maxRepairsPerIteration` per pass. A job downloads exactly k
 * healthy pieces through paid retrieval from providers that advertise them — or, with no advertiser, from the on-chain holders picked at
 * random weighted by collateral with a floor — checking each against its commitment as it
 * arrives (a mismatch is recorded as evidence and another piece fetched; good pieces are kept),
 * rebuilds the lost pieces, checks every rebuilt commitment against the manifest, and hands them
 * to placement (a new storage deal with a provider holding no other piece, then reassignPiece).
 * A failed job retries with backoff; a file with fewer than k healthy pieces is reported lost.
 */
/**
 * How a job rebuilds a file's lost pieces, for its log lines: a Clay file with one lost piece
 * first asks d helpers for their repair sub-chunks (d/(d − k + 1) pieces of traffic instead of k,
 * `rebuildFromSubChunks`); every other case, and a Clay repair without d healthy helpers, downloads
 * k whole pieces.
 */
export function repairMethod(manifest: Pick<Manifest, "coding">, subChunks = false): string {
  if (!manifest.coding) return "reed-solomon file: k whole pieces";
  return subChunks ? "clay file: sub-chunks from d helpers" : "clay file: k whole pieces (sub-chunk repair not used)";
}

export class Repairer {
  private readonly holdings: HoldingsIndex;

  constructor(
    private readonly c: Pick<
      RepairComponents,
      "blobs" | "clientStore" | "clients" | "contracts" | "ledger" | "logger" | "pool" | "store" | "wake"
    >,
    private readonly init: Pick<RepairConfig, "dataDir" | "maxRepairsPerIteration" | "reputation" | "stallTimeoutMs">,
  ) {
    this.holdings = new HoldingsIndex(c);
  }

  /**
   * One pass: runs at most `maxRepairsPerIteration` due jobs (seed 002's N requests per
   * iteration), riskiest first ({@link RepairJobs.nextBatch}); they start in that order and run
   * side by side. A failed job retries with backoff.
   */
  async tick(): Promise<void> {
    const batch = this.c.store.jobs.nextBatch(Date.now(), this.init.maxRepairsPerIteration);
    if (batch.length === 0) return;
    this.c.logger.debug({ jobs: batch.map((j) => j.id) }, "repair pass");
    await Promise.all(batch.map((job) => this.attempt(job)));
  }

  /** Runs one job; a failure is recorded on it and retried with backoff. */
  private async attempt(job: RepairJobRow): Promise<void> {
    try {
      await this.run(job);
    } catch (err) {
      const attempts = job.attempts + 1;
      const delay = Math.min(1000 * 2 ** Math.min(attempts, 6), 60_000);
      const message = (err as Error).message.split("\n")[0];
      this.c.logger.warn(
        { err, dealId: job.dealId, job: job.id, attempts, retryInMs: delay },
        "repair failed; will retry",
      );
      this.c.store.jobs.update(job.id, { attempts, nextAttemptAt: Date.now() + delay, error: message });
    }
  }

  /**
   * One attempt at a job: re-place pieces still held locally, or download k healthy pieces,
   * rebuild the lost ones and hand them to placement. Throws to retry with backoff.
   */
  private async run(job: RepairJobRow): Promise<void> {
    const deal = this.c.store.deal(job.dealId);
    if (!deal || deal.status === "lost" || deal.status === "completed") {
      return this.finishLost(job, `deal is ${deal?.status ?? "unknown"}`);
    }
    const manifest = verifyManifest(this.c.store.manifest(deal.droot), deal.droot);
    const pieces = this.c.store.pieces(job.dealId);
    const lost = job.indices;
    const log = this.c.logger.child({ dealId: job.dealId, job: job.id, lost });
    // Pieces still held locally (placement not yet proven everywhere) need no download.
    const local = new Map(
      lost.map((i) => [i, pieces[i]?.localPath]).filter(([, p]) => p && existsSync(p as string)) as [number, string][],
    );
    if (local.size === lost.length) {
      this.handOver(job, local);
      log.info("lost pieces still held locally; re-placing them without a download");
      this.c.wake();
      return;
    }
    const healthy = pieces.filter((p) => p.state === "assigned" && !lost.includes(p.index));
    if (healthy.length < manifest.k) {
      log.error({ healthy: healthy.length, k: manifest.k }, "file lost: fewer than k healthy pieces");
      return this.finishLost(
        job,
        `only ${healthy.length} healthy pieces, fewer than k = ${manifest.k}: the file cannot be rebuilt`,
      );
    }
    const retrievalId = `repair-${job.id}`;
    if (manifest.coding?.scheme === "clay" && lost.length === 1) {
      const subChunksId = `${retrievalId}-sub-chunks`; // its own: plans are not a fallback's whole pieces
      const rebuilt = await this.subChunkRepair(job, manifest, healthy, subChunksId, log);
      if (rebuilt) return this.finishRebuilt(job, subChunksId, rebuilt);
    }
    const fetched = await this.download(job, deal.droot, manifest, healthy, retrievalId, log);
    const placed = await this.rebuild(job, manifest, fetched.paths, lost);
    this.handOver(job, placed);
    this.c.ledger.finish(retrievalId, "completed");
    log.info(
      {
        downloadedBytes: this.c.store.jobs.get(job.id)?.bytesDownloaded ?? 0,
        piecesUsed: fetched.piecesUsed,
        corrupt: fetched.corruptProviders.map((c) => c.provider),
        pieceSize: manifest.pieces[0].payloadSize,
        method: repairMethod(manifest),
      },
      "pieces rebuilt and checked against the manifest; placing them",
    );
    await rm(this.workDir(job), { recursive: true, force: true });
    this.c.wake();
  }

  /** Hands rebuilt pieces to placement and clears the job's work files. */
  private async finishRebuilt(job: RepairJobRow, retrievalId: string, placed: Map<number, string>): Promise<void> {
    this.handOver(job, placed);
    this.c.ledger.finish(retrievalId, "completed");
    await rm(this.workDir(job), { recursive: true, force: true });
    this.c.wake();
  }

  /**
   * A Clay file's one lost piece from d helpers' sub-chunks (issue 21), each helper's bytes paid
   * and checked against its commitment; corrupt helpers are recorded as evidence.
   *
   * @returns The rebuilt piece's path by index, or undefined when fewer than d helpers could
   *   serve (the caller then downloads k whole pieces, and says so).
   */
  private async subChunkRepair(
    job: RepairJobRow,
    manifest: Manifest,
    healthy: { index: number; pieceCid: string; provider?: Address }[],
    retrievalId: string,
    log: RepairComponents["logger"],
  ): Promise<Map<number, string> | undefined> {
    const coding = manifest.coding as { scheme: "clay"; d: number };
    const params = clayParams(manifest.k, manifest.m, coding.d);
    const lostIndex = job.indices[0];
    const { holders } = await this.holdersOf(healthy);
    const workDir = this.workDir(job);
    await mkdir(workDir, { recursive: true });
    if (!this.c.ledger.get(retrievalId)) {
      this.c.ledger.create({ id: retrievalId, kind: "file", target: manifest.droot, outPath: join(workDir, "file") });
    }
    const fetcher = new PieceFetcher({ ...this.c, ledger: this.c.ledger });
    log.info({ lostIndex, d: params.d, method: repairMethod(manifest, true) }, "repair: sub-chunks from d helpers");
    this.c.store.jobs.setMethod(job.id, repairMethod(manifest, true));
    try {
      const result = await rebuildFromSubChunks(fetcher, {
        retrievalId,
        params,
        lostIndex,
        shareSize: manifest.shareSize,
        subChunkSize: manifest.shareSize / params.alpha,
        pieces: manifest.pieces.map((p) => ({ pieceCid: p.pieceCid, root: p.root, payloadSize: p.payloadSize })),
        holders,
        workDir,
      });
      for (const corrupt of result.corrupt) this.recordEvidence(job, manifest, corrupt);
      this.c.store.jobs.addBytes(job.id, result.bytesDownloaded);
      log.info(
        {
          downloadedBytes: result.bytesDownloaded,
          helpers: result.helpers,
          corrupt: result.corrupt.map((c) => c.provider),
          pieceSize: manifest.pieces[lostIndex].payloadSize,
          method: repairMethod(manifest, true),
        },
        "piece rebuilt from sub-chunks and checked against the manifest; placing it",
      );
      // Kept in the blob store, as a piece rebuilt from whole pieces is (the work dir goes next).
      const key = pieceKey(manifest.pieces[lostIndex].root.toLowerCase() as Hex);
      await this.c.blobs.commit(result.path, key);
      return new Map([[lostIndex, this.c.blobs.path(key)]]);
    } catch (err) {
      if (!(err instanceof NotEnoughHelpersError)) throw err;
      log.warn({ err: err.message, details: err.details }, "sub-chunk repair impossible; downloading k whole pieces");
      this.c.ledger.finish(retrievalId, "failed", err.message);
      this.c.store.jobs.setMethod(job.id, `${repairMethod(manifest)}: ${err.message}`);
      return undefined;
    }
  }

  private finishLost(job: RepairJobRow, error: string): void {
    this.c.store.jobs.update(job.id, { status: "lost", error, finishedAt: Date.now() });
  }

  /**
   * Downloads k of the healthy pieces through paid retrieval, advertisers first (seed 002), each
   * checked against its commitment as it arrives; corrupt pieces are recorded as evidence at
   * once. The retrieval is persisted under `retrievalId`, so a retried job reuses what it verified.
   */
  private async download(
    job: RepairJobRow,
    droot: Hex,
    manifest: Manifest,
    healthy: { index: number; pieceCid: string; provider?: Address }[],
    retrievalId: string,
    log: RepairComponents["logger"],
  ): Promise<FetchedPieces> {
    const { holders } = await this.holdersOf(healthy);
    const order = sourceOrder(
      healthy.map((p) => p.index),
      holders,
      (i) => this.holdings.advertisers(manifest.pieces[i].pieceCid).length > 0,
      this.init.reputation,
    );
    const workDir = this.workDir(job);
    if (!this.c.ledger.get(retrievalId)) {
      this.c.ledger.create({ id: retrievalId, kind: "file", target: droot, outPath: join(workDir, "file") });
    }
    await mkdir(workDir, { recursive: true });
    const retriever = new FileRetriever({
      clients: this.c.clients,
      contracts: this.c.contracts,
      store: this.c.clientStore,
      ledger: this.c.ledger,
      pool: this.c.pool,
      logger: this.c.logger,
      workDir,
    });
    log.info(
      {
        holders: Object.fromEntries([...holders].map(([i, l]) => [i, l.map((p) => p.address)])),
        order,
        method: repairMethod(manifest),
      },
      "repair: downloading k healthy pieces",
    );
    // A Clay fallback already said why; otherwise say how.
    if (!this.c.store.jobs.get(job.id)?.method?.startsWith(repairMethod(manifest))) {
      this.c.store.jobs.setMethod(job.id, repairMethod(manifest));
    }
    const fetched = await retriever.fetchPieces({
      retrievalId,
      manifest,
      holders,
      workDir,
      options: {
        order,
        stallTimeoutMs: this.init.stallTimeoutMs,
        onBytes: (bytes) => this.c.store.jobs.addBytes(job.id, bytes),
      },
      onEvent: (line) => log.debug({ event: line }, "repair retrieval"),
      onCorrupt: (corrupt) => this.recordEvidence(job, manifest, corrupt),
    });
    for (const f of fetched.failedProviders)
      log.warn({ provider: f.provider, piece: f.pieceIndex, err: f.error }, "repair download failed");
    return fetched;
  }

  /** Who holds each healthy piece: its advertisers (seed 002) and its on-chain holder. */
  private async holdersOf(
    healthy: { index: number; pieceCid: string; provider?: Address }[],
  ): Promise<{ holders: Map<number, RegisteredProvider[]> }> {
    const providers = await listProviders(this.c.clients, this.c.contracts);
    await this.holdings.refresh(providers);
    const holders = holdersOf(
      healthy.map((p) => ({ index: p.index, pieceCid: p.pieceCid, provider: p.provider })),
      (pieceCid) => this.holdings.advertisers(pieceCid),
      providers,
    );
    return { holders };
  }

  /**
   * Rebuilds the lost pieces from the downloaded ones and checks each against the manifest's
   * commitment before it is kept.
   *
   * @returns The blob-store path of each rebuilt piece, by index.
   * @throws PieceCommitmentMismatchError (stage "rebuild") when a rebuilt piece's CommP is not
   *   the manifest's; the mismatch is recorded as evidence first.
   */
  private async rebuild(
    job: RepairJobRow,
    manifest: Manifest,
    paths: (string | undefined)[],
    lost: number[],
  ): Promise<Map<number, string>> {
    const rebuiltDir = join(this.workDir(job), "rebuilt");
    await mkdir(rebuiltDir, { recursive: true });
    const rebuilt = await rebuildPieces(manifest, paths, lost, rebuiltDir, this.c.pool);
    const placed = new Map<number, string>();
    for (const [index, { path, digest }] of rebuilt) {
      const expected = manifest.pieces[index].root.toLowerCase();
      const actual = toHex(digest.root);
      if (actual !== expected) {
        this.c.store.addEvidence({
          dealId: job.dealId,
          index,
          provider: "0x0000000000000000000000000000000000000000",
          pieceCid: manifest.pieces[index].pieceCid,
          expected,
          actual,
          stage: "rebuild",
        });
        throw new PieceCommitmentMismatchError(
          `rebuilt piece ${index} does not match its commitment (expected ${expected}, got ${actual})`,
          { details: { dealId: job.dealId, index, expected, actual, stage: "rebuild" } },
        );
      }
      const key = pieceKey(expected);
      await this.c.blobs.commit(path, key);
      placed.set(index, this.c.blobs.path(key));
    }
    return placed;
  }

  /** Hands the rebuilt pieces to placement; losses merged into the job meanwhile get a job of their own. */
  private handOver(job: RepairJobRow, rebuilt: Map<number, string>): void {
    const next = this.c.store.jobs.handRebuiltToPlacement(job.id, job.dealId, rebuilt);
    if (next !== undefined) {
      const left = this.c.store.jobs.get(next)?.indices;
      this.c.logger.warn(
        { dealId: job.dealId, job: job.id, rebuilt: [...rebuilt.keys()], nextJob: next, left },
        "more pieces were lost while this repair ran; they are queued in a new repair job",
      );
    }
  }

  /** Records a provider's corrupt piece as evidence (seed 003), from the structured mismatch. */
  private recordEvidence(job: RepairJobRow, manifest: Manifest, c: CorruptPiece): void {
    this.c.store.addEvidence({
      dealId: job.dealId,
      index: c.pieceIndex,
      provider: c.provider,
      pieceCid: manifest.pieces[c.pieceIndex].pieceCid,
      expected: c.expected,
      actual: c.actual,
      stage: "repair download",
    });
    this.c.logger.warn(
      { dealId: job.dealId, piece: c.pieceIndex, provider: c.provider, evidence: describeCorrupt(c) },
      "provider served bytes that do not match the piece commitment; evidence recorded",
    );
  }

  private workDir(job: RepairJobRow): string {
    return join(this.init.dataDir, "work", `repair-${job.id}`);
  }
}
