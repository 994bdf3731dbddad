import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import { CHUNK_LOG2_LEAVES, LEAVES_PER_QUAD, NODE_BYTES, QUAD_PAYLOAD_BYTES } from "./constants";
import { fr32PadQuads } from "./fr32";
import { pieceGeometry } from "./commp";
import { hashPair, subtreeRoot, subtreeScratchBytes, zeroRoot } from "./sha254";

/**
 * Sub-chunk plans: a helper of a regenerating-code repair (Clay, issue 21) sends, for each stripe
 * of its piece, only some of the share's α sub-chunks — yet every byte it sends must be checked
 * against its piece commitment before it is used. A sub-chunk of 127 · 2^j payload bytes pads to
 * 128 · 2^j bytes (4 · 2^j leaves) and sits at a multiple of its own size, so it is an aligned
 * subtree of the piece's CommP tree. The helper sends, per stripe, the planned sub-chunks' bytes
 * followed by 32-byte roots covering the share's other sub-chunks: with both, the receiver knows
 * the whole stripe as a run of aligned subtrees of the tree, and hashes it up to the 2^15-leaf chunk roots it already verified against the CommP
 * (`GET /pieces/:pieceCid/tree`; for a piece of one chunk or less, the CommP root itself). A wrong
 * byte or a wrong root changes a chunk root: the helper and the chunk are named.
 *
 * The other sub-chunks are not sent one root each: each run of them is cut into **root blocks**,
 * the fewest aligned subtrees covering it, and one root per block is sent. A block holds 2^b
 * sub-chunks from a share index that is a multiple of 2^b, with 2^b dividing α and at most the
 * sub-chunks under one checked node, so it sits at a multiple of its size in the whole piece
 * whatever the stripe (every stripe's record has the same layout and length) and never crosses a
 * checked node. For α = 256 (Clay 10 + 4) this sends 2 to 128 roots per stripe instead of 192,
 * by which digit of the plane index the lost piece fixes; for α = 9 (a power of three) it is one
 * root per sub-chunk, as before.
 *
 * The stream a plan defines (its "records", one per stripe, back to back):
 *   record(s) = subChunk(s, planes[0]) ‖ … ‖ subChunk(s, planes[β−1]) ‖ root(s, B_0) ‖ … ‖ root(s, B_{r−1})
 * where B are the share's root blocks in ascending order (`rootBlocks`); subChunk(s, z) is payload
 * bytes [s · shareSize + z · subChunkSize, + subChunkSize) of the piece and root(s, B) the root of
 * the subtree over B's sub-chunks of stripe s.
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

/** Unsent sub-chunks of a share whose one root is sent: `count` (2^b) of them from index `start`. */
export interface RootBlock {
  start: number;
  count: number;
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
  /** The share's unsent sub-chunks as root blocks, ascending (one 32-byte root each per record). */
  rootBlocks: RootBlock[];
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
  if (level > checkLevel) fail("a sub-chunk must fit in one chunk (at most 2^15 leaves) and in the piece");
  const perCheckNode = 2 ** (checkLevel - level);
  if ((firstStripe * alpha) % perCheckNode !== 0) fail("the plan must start on a chunk boundary");
  const end = firstStripe + stripes;
  if (end !== pieceStripes && (end * alpha) % perCheckNode !== 0) {
    fail("the plan must end on a chunk boundary or at the piece's end");
  }
  const blocks = rootBlocks(planes, alpha, perCheckNode);
  const recordBytes = planes.length * subChunkSize + blocks.length * NODE_BYTES;
  return {
    alpha,
    level,
    checkLevel,
    perCheckNode,
    rootBlocks: blocks,
    recordBytes,
    streamBytes: stripes * recordBytes,
    pieceStripes,
  };
}

/**
 * Cuts a share's unsent sub-chunks into root blocks (see the module's comment): from each unsent
 * index, the largest block of unsent sub-chunks aligned to its size, up to the largest power of
 * two dividing α and at most `perCheckNode`.
 *
 * @param planes The sent indices, ascending, each < α.
 * @returns The blocks in ascending order; together with `planes` they cover 0..α−1 once.
 */
export function rootBlocks(planes: readonly number[], alpha: number, perCheckNode: number): RootBlock[] {
  let cap = 1;
  while (alpha % (cap * 2) === 0 && cap * 2 <= perCheckNode) cap *= 2;
  const sent = new Uint8Array(alpha);
  for (const z of planes) sent[z] = 1;
  const blocks: RootBlock[] = [];
  let z = 0;
  while (z < alpha) {
    if (sent[z]) {
      z++;
      continue;
    }
    let count = cap;
    while (count > 1 && (z % count !== 0 || sent.subarray(z, z + count).includes(1))) count /= 2;
    blocks.push({ start: z, count });
    z += count;
  }
  return blocks;
}

/** Pads and hashes sub-chunk bytes to subtree roots, reusing its buffers. */
class SubtreeHasher {
  private leaves = new Uint8Array(0);
  private scratch = new Uint8Array(0);

  constructor(private readonly subChunkSize: number) {}

  /** Root of the subtree over `count` (2^b) sub-chunks of `bytes` from `offset`: a new 32-byte node. */
  root(bytes: Uint8Array, offset: number, count: number): Uint8Array {
    const quads = (this.subChunkSize / QUAD_PAYLOAD_BYTES) * count;
    const size = quads * LEAVES_PER_QUAD * NODE_BYTES;
    if (this.leaves.length < size) {
      this.leaves = new Uint8Array(size);
      this.scratch = new Uint8Array(subtreeScratchBytes(size));
    }
    const leaves = this.leaves.subarray(0, size);
    fr32PadQuads(bytes, offset, quads, leaves, 0);
    return subtreeRoot(leaves, this.scratch);
  }
}

/**
 * The helper's side: one stripe's record from that stripe's whole share (see the module's
 * comment for the layout).
 *
 * @param share The stripe's share: `plan.shareSize` payload bytes of the piece.
 * @param geometry `subChunkPlanGeometry(plan, the piece's payload size)`.
 * @throws InvalidArgumentError for a share of the wrong size.
 */
export function subChunkRecord(share: Uint8Array, plan: SubChunkPlan, geometry: SubChunkPlanGeometry): Uint8Array {
  if (share.length !== plan.shareSize) {
    throw new InvalidArgumentError("sub-chunk record: the share is not shareSize bytes", {
      details: { bytes: share.length, shareSize: plan.shareSize },
    });
  }
  const blocks = geometry.rootBlocks;
  const record = new Uint8Array(plan.planes.length * plan.subChunkSize + blocks.length * NODE_BYTES);
  plan.planes.forEach((z, i) =>
    record.set(share.subarray(z * plan.subChunkSize, (z + 1) * plan.subChunkSize), i * plan.subChunkSize),
  );
  const hasher = new SubtreeHasher(plan.subChunkSize);
  let at = plan.planes.length * plan.subChunkSize;
  for (const b of blocks) {
    record.set(hasher.root(share, b.start * plan.subChunkSize, b.count), at);
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
  private pending = new Uint8Array(0);
  /**
   * The node being filled, as aligned subtrees (sizes in sub-chunks, strictly decreasing): the
   * binary decomposition of `fill`, merged as soon as two of a size meet.
   */
  private stack: { count: number; root: Uint8Array }[] = [];
  /** Sub-chunks of the node being filled that are in `stack`. */
  private fill = 0;
  private readonly hasher: SubtreeHasher;
  /** What each share index is in a record: a sent plane (its position) or a root block's start. */
  private readonly items: { start: number; count: number; sent?: number; block?: number }[];
  /** Stripes whose records are in `stack`, waiting for their node's check. */
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
    this.hasher = new SubtreeHasher(plan.subChunkSize);
    this.items = [
      ...plan.planes.map((z, i) => ({ start: z, count: 1, sent: i })),
      ...this.geometry.rootBlocks.map((b, i) => ({ ...b, block: i })),
    ].sort((a, b) => a.start - b.start);
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
    this.held.push({ stripe: this.stripe, sent: record.slice(0, sentBytes) });
    // In share order: each sent sub-chunk hashed here, each root block's root as sent. A share may
    // straddle checked nodes (α need not divide them); no item does (`rootBlocks`).
    for (const item of this.items) {
      const root =
        item.sent !== undefined
          ? this.hasher.root(record, item.sent * subChunkSize, 1)
          : // A copy: it may wait on the stack past this push, and the caller may reuse its buffer.
            record.slice(
              sentBytes + (item.block as number) * NODE_BYTES,
              sentBytes + ((item.block as number) + 1) * NODE_BYTES,
            );
      this.add(item.count, root);
      if (this.fill === perCheckNode) {
        const end = item.start + item.count;
        this.checkNode(this.stripe * alpha + end, end === alpha);
      }
    }
    this.stripe++;
    if (this.stripe === pieceStripes && this.fill > 0) {
      // The piece ends inside this node: the rest of its leaves are zeros, as aligned subtrees.
      const filled = this.fill;
      while (this.fill < perCheckNode) {
        const count = this.fill & -this.fill;
        this.add(count, zeroRoot(level + Math.log2(count)));
      }
      this.checkNode(this.stripe * alpha - filled + perCheckNode, true);
    }
  }

  /** Appends an aligned subtree of `count` sub-chunks to the node being filled. */
  private add(count: number, root: Uint8Array): void {
    this.stack.push({ count, root });
    this.fill += count;
    for (let n = this.stack.length; n >= 2 && this.stack[n - 1].count === this.stack[n - 2].count; n--) {
      const right = this.stack.pop() as { count: number; root: Uint8Array };
      const left = this.stack[n - 2];
      this.stack[n - 2] = { count: left.count * 2, root: hashPair(left.root, right.root) };
    }
  }

  /**
   * Compares the filled node (the one ending before sub-chunk `end`, counted over the whole piece)
   * with the verified one; on a match, releases the held stripes now wholly checked (all of them
   * when the node ended with a stripe).
   */
  private checkNode(end: number, stripeDone: boolean): void {
    const { perCheckNode, recordBytes } = this.geometry;
    const index = end / perCheckNode - 1;
    const actual = this.stack[0].root;
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
    this.stack = [];
    this.fill = 0;
    const release = stripeDone ? this.held : this.held.slice(0, -1);
    this.held = stripeDone ? [] : this.held.slice(-1);
    for (const h of release) {
      this.onVerified(h.stripe, h.sent);
      this.verifiedBytes += recordBytes;
    }
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
