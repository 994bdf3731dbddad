import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import { CHUNK_LOG2_LEAVES, LEAVES_PER_QUAD, NODE_BYTES, QUAD_PAYLOAD_BYTES } from "./constants";
import { fr32PadQuads } from "./fr32";
import { pieceGeometry } from "./commp";
import { hashLayer, subtreeRoot, zeroRoot } from "./sha254";

/**
 * Sub-chunk plans: a helper of a regenerating-code repair (Clay, issue 21) sends, for each stripe
 * of its piece, only some of the share's α sub-chunks — yet every byte it sends must be checked
 * against its piece commitment before it is used. A sub-chunk of 127 · 2^j payload bytes pads to
 * 128 · 2^j bytes (4 · 2^j leaves) and sits at a multiple of its own size, so it is an aligned
 * subtree of the piece's CommP tree. The helper sends, per stripe, the planned sub-chunks' bytes
 * followed by the 32-byte roots of the share's other sub-chunks: with both, the receiver knows
 * the root of every sub-chunk of the stripe, i.e. a run of the tree's layer at the sub-chunk
 * level, and hashes it up to the 2^15-leaf chunk roots it already verified against the CommP
 * (`GET /pieces/:pieceCid/tree`; for a piece of one chunk or less, the CommP root itself). A wrong
 * byte or a wrong root changes a chunk root: the helper and the chunk are named.
 *
 * The stream a plan defines (its "records", one per stripe, back to back):
 *   record(s) = subChunk(s, planes[0]) ‖ … ‖ subChunk(s, planes[β−1]) ‖ root(s, u_0) ‖ … ‖ root(s, u_{α−β−1})
 * where u are the share's other sub-chunk indices in ascending order; subChunk(s, z) is payload
 * bytes [s · shareSize + z · subChunkSize, + subChunkSize) of the piece.
 */

/** What a helper is asked to send of its piece. */
export interface SubChunkPlan {
  /** Payload bytes per share (one stripe of the piece): α · subChunkSize. */
  shareSize: number;
  /** Payload bytes per sub-chunk: 127 · 2^j. */
  subChunkSize: number;
  /** Sub-chunk indices sent as bytes in each share, ascending, each < α. */
  planes: number[];
  /** First stripe of the piece in the plan. */
  firstStripe: number;
  /** Stripes in the plan (≥ 1). */
  stripes: number;
}

/** A plan's derived sizes. */
export interface SubChunkPlanGeometry {
  /** Sub-chunks per share. */
  alpha: number;
  /** log2 of a sub-chunk's leaves (2 + j). */
  level: number;
  /** Tree level of the nodes the layer is checked against: 15 (chunk roots) or the piece's height. */
  checkLevel: number;
  /** Sub-chunk roots under one checked node: 2^(checkLevel − level). */
  perCheckNode: number;
  /** Bytes of one stripe's record. */
  recordBytes: number;
  /** Bytes of the whole plan's stream: stripes · recordBytes. */
  streamBytes: number;
  /** Stripes in the whole piece. */
  pieceStripes: number;
}

/** A helper's bytes or roots do not hash to the piece's verified chunk root (or CommP). */
export class SubChunkMismatchError extends RepairMarketError {
  override name = "SubChunkMismatchError" as const;
}

/**
 * Checks a plan against a piece and derives its sizes. The plan must start on a checked node's
 * boundary and end on one or at the piece's last stripe, so every node it touches can be checked.
 *
 * @param payloadSize The piece's payload bytes (stripes · shareSize).
 * @throws InvalidArgumentError naming the rule broken.
 */
export function subChunkPlanGeometry(plan: SubChunkPlan, payloadSize: number): SubChunkPlanGeometry {
  const { shareSize, subChunkSize, planes, firstStripe, stripes } = plan;
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`sub-chunk plan: ${why}`, {
      details: { shareSize, subChunkSize, firstStripe, stripes, payloadSize },
    });
  };
  const quads = subChunkSize / QUAD_PAYLOAD_BYTES;
  if (!Number.isInteger(quads) || quads < 1 || (quads & (quads - 1)) !== 0) {
    fail("a sub-chunk must be 127 · 2^j payload bytes");
  }
  const alpha = shareSize / subChunkSize;
  if (!Number.isInteger(alpha) || alpha < 1) fail("a share must be a whole number of sub-chunks");
  if (!Number.isInteger(payloadSize) || payloadSize < shareSize || payloadSize % shareSize !== 0) {
    fail("the piece must be a whole number of shares");
  }
  const pieceStripes = payloadSize / shareSize;
  if (!Number.isInteger(firstStripe) || !Number.isInteger(stripes) || firstStripe < 0 || stripes < 1) {
    fail("stripes must be whole, at least one");
  }
  if (firstStripe + stripes > pieceStripes) fail("the plan runs past the piece");
  if (planes.length < 1 || planes.length > alpha) fail("between 1 and α planes");
  planes.forEach((z, i) => {
    if (!Number.isInteger(z) || z < 0 || z >= alpha || (i > 0 && z <= planes[i - 1])) {
      fail("planes must be ascending sub-chunk indices below α");
    }
  });
  const level = Math.log2(quads * LEAVES_PER_QUAD);
  const checkLevel = Math.min(CHUNK_LOG2_LEAVES, pieceGeometry(payloadSize).height);
  const perCheckNode = 2 ** (checkLevel - level);
  if ((firstStripe * alpha) % perCheckNode !== 0) fail("the plan must start on a chunk boundary");
  const end = firstStripe + stripes;
  if (end !== pieceStripes && (end * alpha) % perCheckNode !== 0) {
    fail("the plan must end on a chunk boundary or at the piece's end");
  }
  const recordBytes = planes.length * subChunkSize + (alpha - planes.length) * NODE_BYTES;
  return { alpha, level, checkLevel, perCheckNode, recordBytes, streamBytes: stripes * recordBytes, pieceStripes };
}

/** The share's sub-chunk indices a plan does not send, ascending. */
function unsentOf(plan: SubChunkPlan, alpha: number): number[] {
  const sent = new Set(plan.planes);
  return Array.from({ length: alpha }, (_, z) => z).filter((z) => !sent.has(z));
}

/** Roots of `count` consecutive sub-chunks of `bytes` from `offset`, 32 bytes each. */
function rootsOf(bytes: Uint8Array, offset: number, count: number, subChunkSize: number): Uint8Array {
  const quads = subChunkSize / QUAD_PAYLOAD_BYTES;
  const leaves = new Uint8Array(quads * LEAVES_PER_QUAD * NODE_BYTES);
  const scratch = new Uint8Array(leaves.length / 2);
  const out = new Uint8Array(count * NODE_BYTES);
  for (let i = 0; i < count; i++) {
    fr32PadQuads(bytes, offset + i * subChunkSize, quads, leaves, 0);
    out.set(subtreeRoot(leaves, scratch), i * NODE_BYTES);
  }
  return out;
}

/**
 * The helper's side: one stripe's record from that stripe's whole share (see the module's
 * comment for the layout).
 *
 * @param share The stripe's share: `plan.shareSize` payload bytes of the piece.
 * @throws InvalidArgumentError for a share of the wrong size.
 */
export function subChunkRecord(share: Uint8Array, plan: SubChunkPlan): Uint8Array {
  const alpha = plan.shareSize / plan.subChunkSize;
  if (share.length !== plan.shareSize) {
    throw new InvalidArgumentError("sub-chunk record: the share is not shareSize bytes", {
      details: { bytes: share.length, shareSize: plan.shareSize },
    });
  }
  const unsent = unsentOf(plan, alpha);
  const record = new Uint8Array(plan.planes.length * plan.subChunkSize + unsent.length * NODE_BYTES);
  plan.planes.forEach((z, i) =>
    record.set(share.subarray(z * plan.subChunkSize, (z + 1) * plan.subChunkSize), i * plan.subChunkSize),
  );
  let at = plan.planes.length * plan.subChunkSize;
  for (const z of unsent) {
    record.set(rootsOf(share, z * plan.subChunkSize, 1, plan.subChunkSize), at);
    at += NODE_BYTES;
  }
  return record;
}

/**
 * The receiver's side: takes a plan's stream in pieces of any size, checks it a chunk (checked
 * node) at a time and hands on each stripe's planned sub-chunks only once their chunk checked out.
 */
export class SubChunkPlanVerifier {
  readonly geometry: SubChunkPlanGeometry;
  private readonly unsent: number[];
  private pending = new Uint8Array(0);
  /** Sub-chunk roots of the node being filled, in tree order. */
  private layer: Uint8Array;
  private layerFill = 0;
  /** Stripes whose records are in `layer`, waiting for their node's check. */
  private held: { stripe: number; sent: Uint8Array }[] = [];
  private stripe: number;
  private verifiedBytes = 0;

  /**
   * @param plan The plan the helper was asked for.
   * @param payloadSize The piece's payload bytes.
   * @param checkedNode The verified node at `geometry.checkLevel` with this index: a chunk root
   *   (from the tree a provider serves, already checked against the CommP) or, for a piece of one
   *   chunk or less, the CommP root (index 0).
   * @param onVerified Receives each stripe's planned sub-chunks (β · subChunkSize bytes, in plan
   *   order), in stripe order, once checked.
   * @throws InvalidArgumentError for a bad plan.
   */
  constructor(
    private readonly plan: SubChunkPlan,
    payloadSize: number,
    private readonly checkedNode: (index: number) => Uint8Array,
    private readonly onVerified: (stripe: number, sent: Uint8Array) => void,
  ) {
    this.geometry = subChunkPlanGeometry(plan, payloadSize);
    this.unsent = unsentOf(plan, this.geometry.alpha);
    this.layer = new Uint8Array(this.geometry.perCheckNode * NODE_BYTES);
    this.stripe = plan.firstStripe;
  }

  /**
   * Takes the next bytes of the stream.
   *
   * @returns Bytes of the stream checked so far (whole records whose chunks checked out).
   * @throws SubChunkMismatchError naming the chunk, the stripes it holds and both roots.
   * @throws InvalidArgumentError when more bytes come than the plan's stream holds.
   */
  push(bytes: Uint8Array): number {
    const { recordBytes, streamBytes } = this.geometry;
    const received = (this.stripe - this.plan.firstStripe) * recordBytes + this.pending.length + bytes.length;
    if (received > streamBytes) {
      throw new InvalidArgumentError("sub-chunk stream is longer than its plan", {
        details: { received, streamBytes },
      });
    }
    let buffer = bytes;
    if (this.pending.length > 0) {
      buffer = new Uint8Array(this.pending.length + bytes.length);
      buffer.set(this.pending, 0);
      buffer.set(bytes, this.pending.length);
    }
    let at = 0;
    while (buffer.length - at >= recordBytes) {
      this.takeRecord(buffer.subarray(at, at + recordBytes));
      at += recordBytes;
    }
    this.pending = buffer.slice(at);
    return this.verifiedBytes;
  }

  /** Whether the whole plan was received and checked. */
  get done(): boolean {
    return this.verifiedBytes === this.geometry.streamBytes;
  }

  private takeRecord(record: Uint8Array): void {
    const { alpha, perCheckNode, pieceStripes, level } = this.geometry;
    const { planes, subChunkSize } = this.plan;
    const sentBytes = planes.length * subChunkSize;
    const sentRoots = rootsOf(record, 0, planes.length, subChunkSize);
    const roots = new Uint8Array(alpha * NODE_BYTES);
    planes.forEach((z, i) => roots.set(sentRoots.subarray(i * NODE_BYTES, (i + 1) * NODE_BYTES), z * NODE_BYTES));
    this.unsent.forEach((z, i) =>
      roots.set(record.subarray(sentBytes + i * NODE_BYTES, sentBytes + (i + 1) * NODE_BYTES), z * NODE_BYTES),
    );
    this.held.push({ stripe: this.stripe, sent: record.slice(0, sentBytes) });
    // A share may straddle checked nodes (α need not divide them): fill node by node.
    let from = 0;
    while (from < alpha) {
      const take = Math.min(alpha - from, perCheckNode - this.layerFill);
      this.layer.set(roots.subarray(from * NODE_BYTES, (from + take) * NODE_BYTES), this.layerFill * NODE_BYTES);
      this.layerFill += take;
      from += take;
      if (this.layerFill === perCheckNode) this.checkNode(this.stripe * alpha + from, from === alpha);
    }
    this.stripe++;
    if (this.stripe === pieceStripes && this.layerFill > 0) {
      // The piece ends inside this node: the rest of its leaves are zeros.
      const zero = zeroRoot(level);
      const filled = this.layerFill;
      for (let i = filled; i < perCheckNode; i++) this.layer.set(zero, i * NODE_BYTES);
      this.layerFill = perCheckNode;
      this.checkNode(this.stripe * alpha - filled + perCheckNode, true);
    }
  }

  /**
   * Hashes the filled layer to its node (the one ending before sub-chunk `end`, counted over the
   * whole piece) and compares it with the verified one; on a match, releases the held stripes now
   * wholly checked (all of them when the node ended with a stripe).
   */
  private checkNode(end: number, stripeDone: boolean): void {
    const { perCheckNode, recordBytes } = this.geometry;
    const index = end / perCheckNode - 1;
    const actual = perCheckNode === 1 ? this.layer.slice(0, NODE_BYTES) : hashUp(this.layer);
    const expected = this.checkedNode(index);
    if (!equalBytes(actual, expected)) {
      throw new SubChunkMismatchError("a helper's sub-chunks or roots do not match its piece commitment", {
        details: {
          chunk: index,
          stripes: `${this.held[0].stripe}-${this.held[this.held.length - 1].stripe}`,
          expected: hex(expected),
          actual: hex(actual),
        },
      });
    }
    this.layerFill = 0;
    const release = stripeDone ? this.held : this.held.slice(0, -1);
    this.held = stripeDone ? [] : this.held.slice(-1);
    for (const h of release) {
      this.onVerified(h.stripe, h.sent);
      this.verifiedBytes += recordBytes;
    }
  }
}

/** Hashes a layer of 2^h ≥ 2 nodes up to its root. */
function hashUp(layer: Uint8Array): Uint8Array {
  let width = layer.length / 2;
  let current = layer;
  for (;;) {
    const next = new Uint8Array(width);
    hashLayer(current, next);
    if (width === NODE_BYTES) return next;
    current = next;
    width /= 2;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}
