import type { Address, Hex } from "viem";
import { REPAIR_DEAL_STATES, getRepairDeal, repairDealPieces, repairDealsOfMiner } from "../chain/repair-market/reads";
import { getProvider, listProviders, type RegisteredProvider } from "../chain/registry/reads";
import { ManifestInvalidError, verifyManifest, type Manifest } from "../manifest/manifest";
import { getManifestJson } from "../protocol/provider-client";
import type { RepairComponents, RepairStartup } from "./components";
import { orphanRequestOrder } from "./source-order";

const ORPHAN_PREFIX = "orphan:";

/**
 * Seed 002's orphan repair for the miner: a repair deal on chain that the miner's database does
 * not know (a wiped data dir, a deal made while it was down) is marked, then rebuilt from the
 * chain's piece slots and a manifest fetched by droot from providers and verified against it.
 * Orphans are found from `RepairDealCreated` logs as the watcher reads them and from the
 * `dealsOfMiner` view ({@link discoverFromViews}), so none depends on an old log.
 */
export class OrphanRecovery {
  constructor(
    private readonly c: Pick<RepairComponents, "clients" | "contracts" | "logger" | "store" | "wake">,
    private readonly init: Pick<RepairStartup, "minerId">,
  ) {}

  /** Marks repair deal `dealId` (for `droot`) as an orphan to recover. */
  mark(dealId: bigint, droot: Hex): void {
    this.c.store.set(ORPHAN_PREFIX + dealId.toString(), droot);
    this.c.logger.warn({ dealId, droot }, "repair deal on chain without local state (orphan)");
  }

  /**
   * The miner's deals from the `dealsOfMiner` view: any the store lacks becomes an orphan to
   * recover (a wiped data dir, or deals made while the log cursor skipped blocks).
   */
  async discoverFromViews(): Promise<void> {
    const { clients, contracts, store } = this.c;
    for (const dealId of await repairDealsOfMiner(clients, contracts, this.init.minerId)) {
      if (store.deal(dealId) || store.get(ORPHAN_PREFIX + dealId.toString())) continue;
      const deal = await getRepairDeal(clients, contracts, dealId);
      const state = REPAIR_DEAL_STATES[deal.state];
      if (state !== "Placing" && state !== "Active") continue;
      this.mark(dealId, deal.droot);
    }
  }

  /** Rebuilds local state for deals on chain the miner has no record of. */
  async recover(): Promise<void> {
    const { store } = this.c;
    const rows = store.db.prepare("SELECT key, value FROM kv WHERE key LIKE ?").all(`${ORPHAN_PREFIX}%`) as {
      key: string;
      value: string;
    }[];
    for (const row of rows) {
      const dealId = BigInt(row.key.slice(ORPHAN_PREFIX.length));
      try {
        await this.recoverOrphan(dealId, row.value as Hex);
        store.db.prepare("DELETE FROM kv WHERE key = ?").run(row.key);
      } catch (err) {
        this.c.logger.warn({ err, dealId }, "orphan recovery failed; will retry");
      }
    }
  }

  private async recoverOrphan(dealId: bigint, droot: Hex): Promise<void> {
    const { store, clients, contracts } = this.c;
    if (store.deal(dealId)) return;
    const chainDeal = await getRepairDeal(clients, contracts, dealId);
    const state = REPAIR_DEAL_STATES[chainDeal.state];
    if (state !== "Placing" && state !== "Active") return;
    const slots = await repairDealPieces(clients, contracts, dealId);
    const manifest = await this.fetchManifest(
      droot,
      slots.pieces.map((p) => p.provider),
    );
    const head = await clients.public.getBlockNumber();
    const bySlot = new Map(slots.pieces.map((p) => [p.index, p]));
    const inserted = store.db.transaction(() => {
      store.putManifest(droot, JSON.stringify(manifest));
      const ok = store.insertDeal(
        {
          dealId,
          droot,
          client: chainDeal.client,
          k: manifest.k,
          m: manifest.m,
          pieceSize: chainDeal.codingParams.pieceSize,
          endEpoch: chainDeal.endEpoch,
          status: state === "Active" ? "active" : "placing",
        },
        manifest.pieces.map((p, index) => {
          const slot = bySlot.get(index);
          return {
            dealId,
            index,
            pieceCid: p.pieceCid,
            root: p.root,
            payloadSize: p.payloadSize,
            state: slot && !slot.lost ? ("assigned" as const) : ("lost" as const),
            mode: slot ? ("reassign" as const) : ("assign" as const),
            provider: slot?.provider,
            storageDealId: slot?.storageDealId,
            faultEpoch: slot && !slot.lost ? undefined : head,
          };
        }),
      );
      const missing = manifest.pieces.map((_, i) => i).filter((i) => !bySlot.get(i) || bySlot.get(i)?.lost);
      if (ok && missing.length > 0) store.jobs.queue(dealId, missing, head);
      return ok;
    })();
    if (inserted) {
      this.c.logger.info(
        { dealId, droot, pieces: manifest.pieces.length },
        "orphan recovered: manifest fetched and verified against droot",
      );
      this.c.wake();
    }
  }

  /**
   * The manifest by droot: from the file's on-chain holders first, then from other registered
   * providers drawn by collateral with a floor ({@link orphanRequestOrder}).
   */
  private async fetchManifest(droot: Hex, holders: Address[]): Promise<Manifest> {
    const local = this.c.store.manifest(droot);
    if (local) return verifyManifest(local, droot);
    const { clients, contracts } = this.c;
    const onChain = (await Promise.all(holders.map((a) => getProvider(clients, contracts, a)))).filter(
      (p): p is RegisteredProvider => p !== undefined,
    );
    const candidates = orphanRequestOrder(onChain, await listProviders(clients, contracts));
    const failures: string[] = [];
    for (const provider of candidates) {
      try {
        return verifyManifest(await getManifestJson(provider, droot), droot);
      } catch (err) {
        failures.push(`${provider.address}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    throw new ManifestInvalidError(
      `no provider served a manifest hashing to ${droot} (${failures.join("; ") || "no providers"})`,
      { details: { droot, providersAsked: failures.length, stage: "fetch manifest" } },
    );
  }
}
