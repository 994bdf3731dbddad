import type { Address, Hex } from "viem";
import { getProvider, listProviders, type RegisteredProvider } from "../../chain/registry/reads";
import { repairDealPieces, repairDealsByDroot } from "../../chain/repair-market/reads";
import { verifyManifest, type Manifest } from "../../manifest/manifest";
import { getManifestJson, holdsPiece } from "../../protocol/provider-client";
import { ManifestNotFoundError, type ChainDealNote, type FileRetrieverDeps } from "./file-retrieval";

/**
 * Where a file's pieces are and what the file is, before anything is paid: the holders of each
 * piece (repair deals on chain, the client's own deals, then any registered provider that says it
 * holds one) and the file's manifest checked against its droot. Whole-file and byte-range
 * retrievals start here.
 */
export class FileSources {
  constructor(private readonly deps: Pick<FileRetrieverDeps, "clients" | "contracts" | "store" | "logger">) {}

  /**
   * Providers holding each piece: repair deals on chain (only pieces not reported lost), then
   * the client's own deals. What the chain says of each repair deal is added to `notes`.
   *
   * @returns Candidate holders per piece index, in preference order.
   */
  async holders(droot: Hex, notes: ChainDealNote[] = []): Promise<Map<number, RegisteredProvider[]>> {
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
   *
   * @returns Whether any holder was added.
   */
  async probeHolders(manifest: Manifest, holders: Map<number, RegisteredProvider[]>): Promise<boolean> {
    const before = [...holders.values()].reduce((n, list) => n + list.length, 0);
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
    return [...holders.values()].reduce((n, list) => n + list.length, 0) > before;
  }

  /**
   * The verified manifest: from the local store, else from holders, else from any provider.
   *
   * @throws ManifestNotFoundError when no provider serves one that matches the droot.
   */
  async manifest(droot: Hex, holders: Map<number, RegisteredProvider[]>): Promise<Manifest> {
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
