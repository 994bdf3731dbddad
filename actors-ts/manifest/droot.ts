import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { encodeAbiParameters, keccak256, toHex, type Hex } from "viem";
import { InvalidArgumentError } from "../core/errors";
import { codingOnChain, type FileCoding } from "../erasure/coding";

/**
 * The data root (`droot`, seed 000's "File Root" hash): an OpenZeppelin Merkle tree (sorted
 * pairs, `MerkleProof.verify`) over one leaf per piece,
 * `keccak256(abi.encode(uint256 index, bytes32 pieceCid, uint64 pieceSize))`, so a contract can
 * check "piece i of this file is commitment C of size S" from a short proof
 * (`RepairMarket.pieceLeaf`) — plus, for a file, one more leaf binding the file itself
 * (size, SHA-256, coding parameters), so a manifest fetched from anyone can be checked against
 * the droot alone (docs/decisions.md 13).
 */

/** One piece as the droot commits to it. */
export interface DrootPiece {
  /** CommP root, 0x-prefixed 32-byte hex. */
  pieceCid: Hex;
  /** Padded piece size in bytes. */
  pieceSize: bigint;
}

/** The file facts the droot's last leaf commits to. */
export interface DrootFile {
  /** File bytes. */
  fileSize: number;
  /** SHA-256 of the file, 0x-prefixed 32-byte hex. */
  fileSha256: Hex;
  k: number;
  m: number;
  /** Bytes per share. */
  shareSize: number;
  /** The erasure code: absent for Reed–Solomon (the v1 leaf), Clay's scheme and d (the v2 leaf). */
  coding?: FileCoding;
}

/** Domain tag of the file leaf; its encoding (six words) cannot collide with a piece leaf (three). */
const FILE_LEAF_TAG = keccak256(toHex("repair-market file v1"));
/**
 * Domain tag of a Clay file's leaf (eight words: v1's six, then the on-chain scheme number and d).
 * A different tag, so no v1 leaf equals a v2 leaf whatever the words.
 */
const FILE_LEAF_V2_TAG = keccak256(toHex("repair-market file v2"));

/**
 * The droot leaf of piece `index`.
 *
 * @param index 0-based piece index.
 */
export function pieceLeaf(index: number, piece: DrootPiece): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "bytes32" }, { type: "uint64" }],
      [BigInt(index), piece.pieceCid, piece.pieceSize],
    ),
  );
}

/**
 * The droot leaf binding the file's size, hash and coding parameters: for Reed–Solomon (no
 * `coding`) the v1 leaf of every droot made before Clay, for Clay the v2 leaf, which also binds
 * the scheme and d.
 */
export function fileLeaf(file: DrootFile): Hex {
  if (file.coding) {
    const { scheme, d } = codingOnChain(file.coding);
    return keccak256(
      encodeAbiParameters(
        [
          { type: "bytes32" },
          { type: "uint64" },
          { type: "bytes32" },
          { type: "uint8" },
          { type: "uint8" },
          { type: "uint64" },
          { type: "uint8" },
          { type: "uint8" },
        ],
        [FILE_LEAF_V2_TAG, BigInt(file.fileSize), file.fileSha256, file.k, file.m, BigInt(file.shareSize), scheme, d],
      ),
    );
  }
  return keccak256(
    encodeAbiParameters(
      [
        { type: "bytes32" },
        { type: "uint64" },
        { type: "bytes32" },
        { type: "uint8" },
        { type: "uint8" },
        { type: "uint64" },
      ],
      [FILE_LEAF_TAG, BigInt(file.fileSize), file.fileSha256, file.k, file.m, BigInt(file.shareSize)],
    ),
  );
}

/** A built data-root tree. */
export interface Droot {
  /** The root, 0x-prefixed 32-byte hex. */
  root: Hex;
  /** Merkle proof (sibling hashes) for piece `index`. */
  proof(index: number): Hex[];
  /** The leaf of piece `index`. */
  leaf(index: number): Hex;
}

/**
 * Builds the droot of a file's pieces, in piece order.
 *
 * @param pieces The k + m pieces (at least one).
 * @param file The file leaf's facts; omitted only for tests that place bare pieces.
 * @throws InvalidArgumentError for an empty list.
 */
export function buildDroot(pieces: DrootPiece[], file?: DrootFile): Droot {
  if (pieces.length === 0) throw new InvalidArgumentError("a droot needs at least one piece");
  const leaves = pieces.map((piece, i) => pieceLeaf(i, piece));
  const tree = SimpleMerkleTree.of(file ? [...leaves, fileLeaf(file)] : leaves);
  return {
    root: tree.root as Hex,
    proof: (index) => tree.getProof(leaves[index]) as Hex[],
    leaf: (index) => leaves[index],
  };
}
