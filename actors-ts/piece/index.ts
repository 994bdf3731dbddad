/**
 * Filecoin piece commitments (CommP, FRC-0069) for repair-market: streaming hashing, PieceCID v2
 * and Merkle inclusion proofs that `StorageMarket.provePossession` verifies.
 */
export * from "./constants";
export { fr32PadQuads, fr32UnpadQuads } from "./fr32";
export { hashPair, hashLayer, zeroRoot, subtreeRoot } from "./sha254";
export {
  ChunkRootHasher,
  CommPHasher,
  commpOfBytes,
  commpOfFile,
  commpOfStream,
  pieceGeometry,
  type CommPHasherOptions,
  type PieceCommitment,
  type PieceGeometry,
} from "./commp";
export { toPieceCidV2, parsePieceCidV2, RAW_CODEC, PIECE_MULTIHASH_CODE, type PieceCidParts } from "./piece-cid";
export {
  PieceTreeCache,
  proveLeaf,
  rootFromProof,
  zeroPieceProof,
  type LeafProof,
  type PayloadReader,
} from "./piece-proof";
export {
  leavesOfPayload,
  proveRange,
  quadRunOf,
  rangeProofShape,
  rootFromRange,
  RangeProofShapeError,
  type QuadRun,
  type RangeProof,
} from "./range-proof";
