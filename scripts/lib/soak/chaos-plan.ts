import { getAddress, type Address } from "viem";
import { SeededRandom } from "../fault-injection";

/**
 * The soak's fault menu and the rule that keeps every file within its tolerance: pure decisions,
 * so they can be tested without processes. The soak's loop reads the chain and its own fleet,
 * builds a {@link FleetView}, asks {@link chooseFault} what to break next and does it.
 */

/** What the soak does to an agent, or to the agents' path to the chain. */
export type FaultKind =
  /** SIGKILL a provider and restart it on its data dir some periods later. */
  | "kill-restart"
  /** SIGKILL a provider and never restart it. */
  | "kill-forever"
  /** SIGKILL a provider, delete its data dir and restart it on an empty one. */
  | "wipe"
  /** Restart a provider with `--fault corrupt-reads`: it proves, but serves corrupted bytes. */
  | "corrupt-reads"
  /** Restart a provider with `--fault stop-proving refuse-deals`: it serves, but never proves. */
  | "stop-proving"
  /** SIGKILL the repair miner and restart it on its data dir. */
  | "miner-restart"
  /** Cut the agents' TCP relay to the chain for a few seconds. */
  | "chain-outage";

export const FAULT_KINDS: readonly FaultKind[] = [
  "kill-restart",
  "kill-forever",
  "wipe",
  "corrupt-reads",
  "stop-proving",
  "miner-restart",
  "chain-outage",
];

/** Faults that take a provider's pieces away (or make them unusable) for good. */
export const PERMANENT_PROVIDER_FAULTS: readonly FaultKind[] = ["kill-forever", "wipe", "stop-proving"];

/** How the soak sees one provider right now. */
export type ProviderCondition = "healthy" | "down" | "corrupt" | "not-proving" | "gone";

/** One piece slot of a stored file, as read from RepairMarket. */
export interface SlotView {
  index: number;
  provider: Address;
  storageDealId: bigint;
  /** Reported lost and not yet confirmed repaired. */
  lost: boolean;
}

/** One stored file: its layout and where its pieces are. */
export interface FileView {
  droot: string;
  k: number;
  m: number;
  slots: SlotView[];
  /** RepairDeal Lost on chain (or otherwise finished): no longer part of the rule. */
  closed: boolean;
}

/** What {@link chooseFault} decides from. */
export interface FleetView {
  providers: { address: Address; condition: ProviderCondition }[];
  files: FileView[];
  /** Storage deals the soak broke for good (a wipe, a kill-forever, a stop-proving). */
  doomedStorageDeals: ReadonlySet<bigint>;
}

/** A fault to inject: its kind and, for provider faults, the provider. */
export interface FaultChoice {
  kind: FaultKind;
  provider?: Address;
}

/**
 * Pieces of `file` that may be unavailable now: reported lost, or held by a provider that is not
 * healthy, or under a storage deal the soak broke for good.
 */
export function piecesAtRisk(file: FileView, view: Pick<FleetView, "providers" | "doomedStorageDeals">): number {
  const condition = new Map(view.providers.map((p) => [getAddress(p.address), p.condition]));
  return file.slots.filter(
    (s) =>
      s.lost ||
      view.doomedStorageDeals.has(s.storageDealId) ||
      (condition.get(getAddress(s.provider)) ?? "healthy") !== "healthy",
  ).length;
}

/**
 * Whether breaking `provider` keeps every file within tolerance: for each open file it holds a
 * piece of, the pieces at risk afterwards stay at most m, and enough healthy providers that hold
 * none of the file's pieces remain to take every piece at risk (a repaired piece needs a
 * provider holding no other piece of the file).
 */
export function withinTolerance(view: FleetView, provider: Address): boolean {
  const target = getAddress(provider);
  const after: FleetView = {
    ...view,
    providers: view.providers.map((p) => (getAddress(p.address) === target ? { ...p, condition: "down" as const } : p)),
  };
  const healthy = after.providers.filter((p) => p.condition === "healthy").map((p) => getAddress(p.address));
  for (const file of view.files) {
    if (file.closed) continue;
    const holders = new Set(file.slots.map((s) => getAddress(s.provider)));
    if (!holders.has(target)) continue;
    const risk = piecesAtRisk(file, after);
    if (risk > file.m) return false;
    const spares = healthy.filter((a) => !holders.has(a)).length;
    if (spares < risk) return false;
  }
  return true;
}

/** Weights of the fault menu (relative; a kind with weight 0 is never drawn). */
export type FaultWeights = Record<FaultKind, number>;

export const DEFAULT_FAULT_WEIGHTS: FaultWeights = {
  "kill-restart": 4,
  "kill-forever": 2,
  wipe: 2,
  "corrupt-reads": 1,
  "stop-proving": 2,
  "miner-restart": 1,
  "chain-outage": 1,
};

/**
 * Draws the next fault from `rng`: a kind by `weights`, then a provider that is healthy and can
 * be broken within tolerance ({@link withinTolerance}). A provider fault no provider can take is
 * redrawn (up to a few times) and falls back to a miner restart or a chain outage, so the soak
 * keeps injecting something.
 *
 * @param permanentLeft Permanent provider faults still allowed (each costs the fleet a provider).
 */
export function chooseFault(
  rng: SeededRandom,
  view: FleetView,
  weights: FaultWeights,
  permanentLeft: number,
): FaultChoice {
  const kinds = FAULT_KINDS.filter(
    (k) => weights[k] > 0 && (permanentLeft > 0 || !PERMANENT_PROVIDER_FAULTS.includes(k)),
  );
  const total = kinds.reduce((sum, k) => sum + weights[k], 0);
  for (let attempt = 0; attempt < 6 && total > 0; attempt++) {
    let x = rng.next() * total;
    const kind = kinds.find((k) => (x -= weights[k]) < 0) ?? kinds[kinds.length - 1];
    if (kind === "miner-restart" || kind === "chain-outage") return { kind };
    const candidates = view.providers
      .filter((p) => p.condition === "healthy" && withinTolerance(view, p.address))
      .map((p) => p.address);
    if (candidates.length === 0) continue;
    return { kind, provider: candidates[rng.integer(0, candidates.length - 1)] };
  }
  return { kind: rng.next() < 0.5 ? "miner-restart" : "chain-outage" };
}

/**
 * The providers to break at once for the beyond-tolerance burst: m + 1 holders of `file`, so its
 * repair deal is lost on chain. Undefined when it has fewer than m + 1 healthy holders.
 */
export function burstVictims(file: FileView, view: Pick<FleetView, "providers">): Address[] | undefined {
  const healthy = new Set(view.providers.filter((p) => p.condition === "healthy").map((p) => getAddress(p.address)));
  const holders = [...new Set(file.slots.map((s) => getAddress(s.provider)))].filter((a) => healthy.has(a));
  return holders.length > file.m ? holders.slice(0, file.m + 1) : undefined;
}
