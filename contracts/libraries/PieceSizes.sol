// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title PieceSizes
/// @notice Padded piece sizes and the fr32 padding rule shared by the storage and repair markets.
/// @dev fr32 (Filecoin's piece padding, FRC-0069): every quad of `QUAD_PAYLOAD_BYTES` (127)
/// payload bytes fills `QUAD_PADDED_BYTES` (128) padded bytes, i.e. `LEAVES_PER_QUAD` (four)
/// leaves of `LEAF_BYTES` (32) bytes holding 254 payload bits each. A piece is zero-padded to a
/// power of two of at least `MIN_PIECE_SIZE` bytes, the smallest one that holds its payload, as a
/// PieceCID v2 height is (`minimalPayloadRange`). The names follow `actors-ts/piece/constants.ts`.
library PieceSizes {
    /// @notice Smallest padded piece, in bytes: one quad.
    uint256 internal constant MIN_PIECE_SIZE = 128;
    /// @notice Largest padded piece the storage market accepts, in bytes (2^36 = 64 GiB).
    uint256 internal constant MAX_PIECE_SIZE = 1 << 36;
    /// @notice Payload bytes per fr32 quad.
    uint256 internal constant QUAD_PAYLOAD_BYTES = 127;
    /// @notice Padded bytes per fr32 quad.
    uint256 internal constant QUAD_PADDED_BYTES = 128;
    /// @notice Bytes per leaf (a sha254 Merkle node) of a piece.
    uint256 internal constant LEAF_BYTES = 32;
    /// @notice Leaves per quad (`QUAD_PADDED_BYTES / LEAF_BYTES`).
    uint256 internal constant LEAVES_PER_QUAD = 4;

    /// @notice Whether `size` is a padded piece size: a power of two of at least `MIN_PIECE_SIZE`.
    /// @param size Padded size in bytes.
    /// @return valid True when `size` is a power of two ≥ `MIN_PIECE_SIZE`.
    function isPieceSize(uint256 size) internal pure returns (bool valid) {
        return size >= MIN_PIECE_SIZE && size & (size - 1) == 0;
    }

    /// @notice The payload sizes a piece of `pieceSize` padded bytes may hold under the minimal
    /// padding rule: pieceSize/2 · 127/128 < payloadSize ≤ pieceSize · 127/128, so `pieceSize` is
    /// the smallest power of two whose fr32 capacity holds the payload; a `MIN_PIECE_SIZE` piece
    /// (nothing smaller exists) holds any 1..127 bytes.
    /// @dev `pieceSize` must satisfy `isPieceSize` (then pieceSize · 127/128 is exact).
    /// @param pieceSize Padded piece size in bytes.
    /// @return minPayload Smallest payload accepted, in bytes (≥ 1).
    /// @return maxPayload Largest payload accepted, in bytes: the piece's fr32 capacity.
    function minimalPayloadRange(uint256 pieceSize) internal pure returns (uint256 minPayload, uint256 maxPayload) {
        maxPayload = (pieceSize / QUAD_PADDED_BYTES) * QUAD_PAYLOAD_BYTES;
        minPayload = pieceSize == MIN_PIECE_SIZE ? 1 : maxPayload / 2 + 1;
    }

    /// @notice Leaves holding any of `payloadSize` bytes once fr32-padded, ⌈4 · payloadSize / 127⌉
    /// (254 payload bits a leaf; zero padding excluded): a piece's weight in its data set's sum
    /// tree, so no challenge falls on padding.
    /// @param payloadSize Payload bytes.
    /// @return leaves Number of 32-byte leaves with payload in them.
    function payloadLeaves(uint256 payloadSize) internal pure returns (uint256 leaves) {
        return (payloadSize * LEAVES_PER_QUAD + (QUAD_PAYLOAD_BYTES - 1)) / QUAD_PAYLOAD_BYTES;
    }
}
