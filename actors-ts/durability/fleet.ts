import type { Address } from "viem";
import type { RegisteredProvider } from "../chain/registry/reads";
import { placementCandidates } from "../repair/placement-rules";
import type { SimRandom } from "./random";

/**
 * The simulated fleet's state: F files of n pieces, P providers in G operator groups, which
 * provider holds which piece, and each piece's repair state. Placement goes through the repair
 * miner's own rule ({@link placementCandidates}), so what the simulation places is what the
 * placer would choose among equally scored, equally priced providers.
 */

/** Where a piece is in its life: held, lost and unseen, waiting for a repair, rebuilding, being placed. */
export const PieceState = { Healthy: 0, Lost: 1, Queued: 2, Rebuilding: 3, Placing: 4 } as const;

/**
 * How placement treats operator groups: `ignore` is the miner's rule as it is (any provider
 * holding no other piece of the file); `spread` adds a cap of ⌈n / G⌉ pieces of a file per group,
 * the most even spread (with G ≥ ⌈n / m⌉ groups the cap is ≤ m, so no single group's failure
 * loses a file). The miner has no notion of groups today; `spread` is a what-if.
 */
export type GroupPlacement = "ignore" | "spread";

/** The fleet's size and placement policy. */
export interface FleetShape {
  files: number;
  providers: number;
  /** Operator groups; provider p belongs to group p mod G. */
  groups: number;
  /** Pieces per file. */
  n: number;
  placement: GroupPlacement;
  /** Padded piece size, bytes, checked against the providers' asks. */
  pieceSizeBytes: number;
}

/** Providers drawn at random per placement before the rule ranks them (all equal in the model). */
const PLACEMENT_SAMPLE = 8;
const noScore = (): undefined => undefined;
const WORKER: Address = "0x00000000000000000000000000000000000000ff";

/** The fleet (see the module comment). Arrays are indexed by piece id = file × n + index. */
export class Fleet {
  readonly n: number;
  readonly provider: Int32Array;
  readonly state: Uint8Array;
  readonly generation: Uint32Array;
  /** The rebuilt copy is still with the miner (a placement failed before it was confirmed). */
  readonly heldLocally: Uint8Array;
  /** Hours at which the piece was last lost. */
  readonly lostAt: Float64Array;
  /** Pieces of each file not healthy. */
  readonly lost: Uint8Array;
  /** Hours at which each file was lost (NaN while it is not). */
  readonly fileLostAt: Float64Array;
  /** Each file's repair deal end epoch, for the repair priority's tie-break. */
  readonly endEpoch: bigint[];
  readonly held: number[][];
  private readonly position: Int32Array;
  private readonly registered: RegisteredProvider[];
  private readonly indexOf = new Map<string, number>();
  private readonly cap: number;
  private readonly pieceSize: bigint;
  private readonly draw = (): number => this.random.next();

  constructor(
    readonly shape: FleetShape,
    private readonly random: SimRandom,
  ) {
    const size = shape.files * shape.n;
    this.n = shape.n;
    this.provider = new Int32Array(size).fill(-1);
    this.state = new Uint8Array(size);
    this.generation = new Uint32Array(size);
    this.heldLocally = new Uint8Array(size);
    this.lostAt = new Float64Array(size);
    this.position = new Int32Array(size).fill(-1);
    this.lost = new Uint8Array(shape.files);
    this.fileLostAt = new Float64Array(shape.files).fill(NaN);
    this.endEpoch = Array.from({ length: shape.files }, () => BigInt(1 + random.below(1_000_000)));
    this.held = Array.from({ length: shape.providers }, () => []);
    this.cap = shape.placement === "spread" ? Math.ceil(shape.n / shape.groups) : shape.n;
    const size32 = BigInt(shape.pieceSizeBytes);
    this.pieceSize = size32;
    this.registered = Array.from({ length: shape.providers }, (_, p) => ({
      address: `0x${(p + 1).toString(16).padStart(40, "0")}` as Address,
      endpoint: `sim://${p}`,
      registeredAt: 1n,
      storageAsk: { pricePerBytePerEpoch: 1n, minPieceSize: 0n, maxPieceSize: size32, collateralPerByte: 1n },
      retrievalAsk: { pricePerByte: 1n, paymentIntervalBytes: 1n, paymentIntervalIncreaseBytes: 1n },
    }));
    this.registered.forEach((r, p) => this.indexOf.set(r.address, p));
  }

  groupOf(p: number): number {
    return p % this.shape.groups;
  }

  fileOf(piece: number): number {
    return Math.floor(piece / this.n);
  }

  /** Puts every file's n pieces on distinct providers. */
  placeAll(): void {
    for (let f = 0; f < this.shape.files; f++) {
      for (let j = 0; j < this.n; j++) {
        const p = this.choose(f * this.n + j);
        if (p === undefined) throw new RangeError(`no provider can take piece ${j} of file ${f}`);
        this.attach(f * this.n + j, p);
      }
    }
  }

  attach(piece: number, p: number): void {
    this.provider[piece] = p;
    this.position[piece] = this.held[p].length;
    this.held[p].push(piece);
  }

  detach(piece: number): void {
    const p = this.provider[piece];
    if (p < 0) return;
    const list = this.held[p];
    const at = this.position[piece];
    const last = list.pop() as number;
    if (last !== piece) {
      list[at] = last;
      this.position[last] = at;
    }
    this.provider[piece] = -1;
    this.position[piece] = -1;
  }

  /**
   * A provider for `piece` by the placer's rule ({@link placementCandidates}) over a random sample
   * of providers (all providers when the sample has none), with the group cap as exclusions when
   * placement spreads; undefined when none can take it.
   */
  choose(piece: number): number | undefined {
    const f = this.fileOf(piece);
    const taken = new Set<string>();
    const perGroup = new Map<number, number>();
    for (let j = f * this.n; j < (f + 1) * this.n; j++) {
      const p = this.provider[j];
      if (j === piece || p < 0) continue;
      taken.add(this.registered[p].address);
      perGroup.set(this.groupOf(p), (perGroup.get(this.groupOf(p)) ?? 0) + 1);
    }
    const sample = new Set<number>();
    for (let i = 0; i < PLACEMENT_SAMPLE; i++) sample.add(this.random.below(this.shape.providers));
    return this.pick([...sample], taken, perGroup) ?? this.pick([...this.registered.keys()], taken, perGroup);
  }

  private pick(indices: readonly number[], taken: Set<string>, perGroup: Map<number, number>): number | undefined {
    const excluded = new Set<string>();
    for (const p of indices)
      if ((perGroup.get(this.groupOf(p)) ?? 0) >= this.cap) excluded.add(this.registered[p].address);
    const rule = { self: WORKER, taken, excluded, pieceSize: this.pieceSize };
    const list = indices.map((p) => this.registered[p]);
    const best = placementCandidates(list, rule, noScore, this.draw)[0];
    return best && this.indexOf.get(best.address);
  }
}
