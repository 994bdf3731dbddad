import { mkdir, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import type { Address, Hex } from "viem";
import { getProvider, listProviders, type RegisteredProvider } from "../../chain/registry/reads";
import { repairDealPieces, repairDealsByDroot } from "../../chain/repair-market/reads";
import { decodeFile } from "../../manifest/decode";
import { verifyManifest, type Manifest } from "../../manifest/manifest";
import { PieceFetcher, formatEvent } from "./piece-fetcher";
import { PieceFetchRun } from "./piece-fetch-run";
import {
  ManifestNotFoundError,
  NotEnoughPiecesError,
  assertEnoughHolders,
  type ChainDealNote,
  type FetchedPieces,
  type FileRetrievalResult,
  type FileRetrieveOptions,
  type FileRetrieverDeps,
  type PieceFetchRequest,
} from "./file-retrieval";
import { getManifestJson, holdsPiece } from "../../protocol/provider-client";

/**
 * Seed 001's RetrievalRequest for a whole file: reads the manifest, finds who holds each piece
 * (repair deals on chain, the client's own deals), fetches k pieces in parallel through paid
 * retrieval — the first k that verify win; a slow, failing or lying provider is replaced by the
 * next holder, not waited for — then rebuilds the file, checks its SHA-256 and writes it
 * atomically. The retrieval is persisted: a rerun resumes it, and pays nothing twice.
 */
export class FileRetriever {
  private readonly fetcher: PieceFetcher;

  constructor(private readonly deps: FileRetrieverDeps) {
    this.fetcher = new PieceFetcher(deps);
  }

  /**
   * @throws ManifestNotFoundError, NotEnoughPiecesError (with every provider's failure),
   * FileHashMismatchError.
   */
  async retrieve(droot: Hex, outPath: string, options: FileRetrieveOptions = {}): Promise<FileRetrievalResult> {
    const { ledger } = this.deps;
    const out = resolve(outPath);
    const existing = ledger.findResumable("file", droot, out);
    const retrievalId = existing?.id ?? randomBytes(8).toString("hex");
    if (!existing) ledger.create({ id: retrievalId, kind: "file", target: droot, outPath: out });
    const events: string[] = [...(existing?.events ?? [])];
    const log = (line: string) => {
      events.push(line);
      ledger.appendEvent(retrievalId, line);
      options.onEvent?.(line);
    };
    const workDir = join(this.deps.workDir, retrievalId);
    await mkdir(workDir, { recursive: true });
    const result: FileRetrievalResult = {
      retrievalId,
      droot,
      outPath: out,
      fileSize: 0,
      paid: 0n,
      piecesUsed: [],
      corruptProviders: [],
      failedProviders: [],
      events,
    };
    const chainDeals: ChainDealNote[] = [];
    try {
      const holders = await this.holders(droot, chainDeals);
      const manifest = await this.manifest(droot, holders);
      await this.probeHolders(manifest, holders);
      // Pay nothing for a file that cannot be rebuilt: with fewer than k pieces held by anyone,
      // every paid byte would be wasted.
      assertEnoughHolders(droot, manifest, holders, chainDeals);
      result.fileSize = manifest.fileSize;
      log(
        formatEvent({
          received: 0,
          paid: 0n,
          event: "ClientEventOpen",
          status: "DealStatusNew",
          detail: `droot ${droot}`,
        }),
      );
      const fetched = await this.fetchPieces({ retrievalId, manifest, holders, workDir, options, onEvent: log });
      result.piecesUsed = fetched.piecesUsed;
      result.corruptProviders = fetched.corruptProviders;
      result.failedProviders = fetched.failedProviders;
      await decodeFile(manifest, fetched.paths, out, this.deps.pool);
      result.paid = ledger.paidFor(retrievalId);
      log(
        formatEvent({
          received: manifest.fileSize,
          paid: result.paid,
          event: "ClientEventComplete",
          status: "DealStatusCompleted",
        }),
      );
      ledger.finish(retrievalId, "completed");
      await rm(workDir, { recursive: true, force: true });
      return result;
    } catch (err) {
      result.paid = ledger.paidFor(retrievalId);
      throw this.failed(err, retrievalId, result.paid, chainDeals, log);
    }
  }

  /**
   * Ends a failed retrieval: logs the error event, marks the retrieval failed when too few pieces
   * could be had, and returns the error to throw — for that case with what the chain says of the
   * file's repair deals added (a failure next to "Lost on chain" explains itself).
   */
  private failed(
    err: unknown,
    retrievalId: string,
    paid: bigint,
    chainDeals: ChainDealNote[],
    log: (line: string) => void,
  ): unknown {
    log(
      formatEvent({
        received: 0,
        paid,
        event: "ClientEventError",
        status: "DealStatusErrored",
        detail: (err as Error).message.split("\n")[0],
      }),
    );
    if (!(err instanceof NotEnoughPiecesError)) return err;
    this.deps.ledger.finish(retrievalId, "failed", err.message);
    if (chainDeals.length === 0 || err.details.chain !== undefined) return err;
    return new NotEnoughPiecesError(err.shortMessage, {
      details: {
        ...err.details,
        chain: chainDeals.map((d) => `repair deal ${d.dealId} is ${d.state}`).join("; "),
      },
      cause: err.cause,
    });
  }

  /**
   * Runs paid piece fetches until k pieces are verified (seed 003: download exactly k; a piece
   * whose bytes do not match its commitment is reported to `onCorrupt` and in the answer, and
   * another holder or piece is tried, keeping the good ones). Verified fetches recorded under
   * `retrievalId` by an earlier run are reused.
   *
   * @throws NotEnoughPiecesError listing every failure.
   */
  async fetchPieces(request: PieceFetchRequest): Promise<FetchedPieces> {
    return new PieceFetchRun(this.deps.ledger, this.fetcher, request).run();
  }

  /**
   * Providers holding each piece: repair deals on chain (only pieces not reported lost), then
   * the client's own deals. What the chain says of each repair deal is added to `notes`.
   */
  private async holders(droot: Hex, notes: ChainDealNote[] = []): Promise<Map<number, RegisteredProvider[]>> {
    const { clients, contracts, store } = this.deps;
    const addresses = new Map<number, Set<Address>>();
    const add = (index: number, provider: Address) => {
      if (!addresses.has(index)) addresses.set(index, new Set());
      addresses.get(index)?.add(provider);
    };
    for (const dealId of await repairDealsByDroot(clients, contracts, droot)) {
      const deal = await repairDealPieces(clients, contracts, dealId);
      notes.push({
        dealId,
        state: deal.state,
        lostPieces: deal.pieces.filter((p) => p.lost).map((p) => p.index),
      });
      if (deal.state !== "Placing" && deal.state !== "Active") continue;
      for (const p of deal.pieces) if (!p.lost) add(p.index, p.provider);
    }
    const local = store.manifest(droot);
    if (local) {
      const manifest = JSON.parse(local) as Manifest;
      manifest.pieces.forEach((piece, index) => {
        for (const d of store.dealsForPiece(piece.pieceCid)) add(index, d.provider);
      });
    }
    const out = new Map<number, RegisteredProvider[]>();
    const cache = new Map<Address, RegisteredProvider | undefined>();
    for (const [index, set] of addresses) {
      const list: RegisteredProvider[] = [];
      for (const address of set) {
        if (!cache.has(address)) cache.set(address, await getProvider(clients, contracts, address));
        const provider = cache.get(address);
        if (provider) list.push(provider);
      }
      out.set(index, list);
    }
    return out;
  }

  /**
   * Completes the holder lists by asking every registered provider that is not already listed
   * whether it holds each piece (`GET /pieces/:pieceCid/tree`, public and cheap).
   */
  private async probeHolders(manifest: Manifest, holders: Map<number, RegisteredProvider[]>): Promise<void> {
    const known = new Set([...holders.values()].flat().map((p) => p.address));
    const others = (await listProviders(this.deps.clients, this.deps.contracts)).filter((p) => !known.has(p.address));
    await Promise.all(
      manifest.pieces.flatMap((piece, index) =>
        others.map(async (provider) => {
          // Not a holder, or unreachable: either way not a candidate.
          if (await holdsPiece(provider, piece.pieceCid)) holders.set(index, [...(holders.get(index) ?? []), provider]);
        }),
      ),
    );
  }

  /** The verified manifest: from the local store, else from holders, else from any provider. */
  private async manifest(droot: Hex, holders: Map<number, RegisteredProvider[]>): Promise<Manifest> {
    const local = this.deps.store.manifest(droot);
    if (local) return verifyManifest(local, droot);
    const asked = new Set<string>();
    const candidates = [...holders.values()].flat();
    const tryProvider = async (p: RegisteredProvider): Promise<Manifest | undefined> => {
      if (asked.has(p.address)) return undefined;
      asked.add(p.address);
      try {
        return verifyManifest(await getManifestJson(p, droot), droot);
      } catch (err) {
        this.deps.logger.warn({ err, provider: p.address }, "no usable manifest from provider");
        return undefined;
      }
    };
    for (const p of candidates) {
      const m = await tryProvider(p);
      if (m) return this.keep(m);
    }
    for (const p of await listProviders(this.deps.clients, this.deps.contracts)) {
      const m = await tryProvider(p);
      if (m) return this.keep(m);
    }
    throw new ManifestNotFoundError("no provider served a manifest matching this droot", { details: { droot } });
  }

  private keep(manifest: Manifest): Manifest {
    this.deps.store.putManifest(manifest.droot, JSON.stringify(manifest));
    return manifest;
  }
}
