// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Sha254MerkleProof
/// @notice Merkle paths in Filecoin's piece-commitment tree (CommP): a binary tree over 32-byte
/// fr32 leaves whose nodes are SHA-256 of the two children with the two most significant bits of
/// the digest's last byte cleared ("sha254", FRC-0069 / `fr32-sha2-256-trunc254-padded-binary-tree`).
/// @dev Hashing uses the SHA-256 precompile (address 0x02) on scratch memory 0x00..0x3f.
library Sha254MerkleProof {
    /// @dev AND-mask clearing bits 6 and 7 of the digest's last byte (the word's low byte).
    uint256 internal constant TRUNCATION_MASK = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3f;

    /// @notice sha254(left ‖ right).
    /// @param left Left child (32 bytes).
    /// @param right Right child (32 bytes).
    /// @return node The parent node.
    function hashPair(bytes32 left, bytes32 right) internal view returns (bytes32 node) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            if iszero(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20)) {
                revert(0, 0)
            }
            node := and(mload(0x00), TRUNCATION_MASK)
        }
    }

    /// @notice Root reached from `leaf` at position `index` through `siblings` (leaf level
    /// first). At level l the running node is the left child when bit l of `index` is 0.
    /// @param leaf The 32-byte fr32 leaf.
    /// @param index Leaf position in the piece, 0-based; must be < 2^siblings.length.
    /// @param siblings Sibling nodes from the leaf level up.
    /// @return root The computed root.
    function processProof(
        bytes32 leaf,
        uint256 index,
        bytes32[] calldata siblings
    ) internal view returns (bytes32 root) {
        assembly ("memory-safe") {
            let node := leaf
            let ptr := siblings.offset
            let end := add(ptr, shl(5, siblings.length))
            for {} lt(ptr, end) {
                ptr := add(ptr, 0x20)
            } {
                switch and(index, 1)
                case 0 {
                    mstore(0x00, node)
                    mstore(0x20, calldataload(ptr))
                }
                default {
                    mstore(0x00, calldataload(ptr))
                    mstore(0x20, node)
                }
                if iszero(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20)) {
                    revert(0, 0)
                }
                node := and(mload(0x00), TRUNCATION_MASK)
                index := shr(1, index)
            }
            root := node
        }
    }
}
