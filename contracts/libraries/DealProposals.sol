// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {StorageDealProposal} from "../types/StorageDealTypes.sol";

/// @title DealProposals
/// @notice EIP-712 encoding of `StorageDealProposal` and the key a deal is stored under.
library DealProposals {
    /// @notice EIP-712 type hash of `StorageDealProposal`.
    bytes32 internal constant TYPEHASH = keccak256(
        "StorageDealProposal(bytes32 pieceCid,uint64 pieceSize,uint64 payloadSize,address client,address provider,"
        "string label,uint64 startEpoch,uint64 endEpoch,uint256 storagePricePerEpoch,"
        "uint256 providerCollateral,uint256 clientCollateral,uint256 nonce)"
    );

    /// @notice EIP-712 type hash of `StorageDealAcceptance`: the provider's signature that it
    /// accepts a proposal (seed 001's signed StorageDeal), so the client, or anyone, may publish.
    bytes32 internal constant ACCEPTANCE_TYPEHASH = keccak256(
        "StorageDealAcceptance(StorageDealProposal proposal)"
        "StorageDealProposal(bytes32 pieceCid,uint64 pieceSize,uint64 payloadSize,address client,address provider,"
        "string label,uint64 startEpoch,uint64 endEpoch,uint256 storagePricePerEpoch,"
        "uint256 providerCollateral,uint256 clientCollateral,uint256 nonce)"
    );

    /// @notice EIP-712 struct hash of `StorageDealAcceptance(proposal)`, given the proposal's
    /// terms hash (`structHash`).
    /// @param terms The proposal's EIP-712 struct hash.
    /// @return digest keccak256(ACCEPTANCE_TYPEHASH ‖ terms), the acceptance's struct hash.
    function acceptanceHash(bytes32 terms) internal pure returns (bytes32 digest) {
        bytes32 typeHash = ACCEPTANCE_TYPEHASH;
        assembly ("memory-safe") {
            mstore(0x00, typeHash)
            mstore(0x20, terms)
            digest := keccak256(0x00, 0x40)
        }
    }

    /// @notice EIP-712 struct hash ("terms hash") of `p`.
    /// @param p The proposal.
    /// @return The struct hash the client signs (inside the market's EIP-712 domain).
    function structHash(StorageDealProposal calldata p) internal pure returns (bytes32) {
        return structHash(p, p.endEpoch, p.nonce);
    }

    /// @notice EIP-712 struct hash of `p` with its `endEpoch` and `nonce` replaced: the terms a
    /// client signs to extend deal `p` (`extendStorageDeal`).
    /// @param p The proposal.
    /// @param endEpoch The end epoch to hash in place of `p.endEpoch`.
    /// @param nonce The nonce to hash in place of `p.nonce`.
    /// @return The struct hash of the modified proposal.
    function structHash(
        StorageDealProposal calldata p,
        uint64 endEpoch,
        uint256 nonce
    ) internal pure returns (bytes32) {
        // Two static encodings concatenated equal one encoding of all thirteen words; split only
        // to stay within the legacy code generator's stack.
        return
            keccak256(
                bytes.concat(
                    abi.encode(
                        TYPEHASH,
                        p.pieceCid,
                        p.pieceSize,
                        p.payloadSize,
                        p.client,
                        p.provider,
                        keccak256(bytes(p.label))
                    ),
                    abi.encode(
                        p.startEpoch,
                        endEpoch,
                        p.storagePricePerEpoch,
                        p.providerCollateral,
                        p.clientCollateral,
                        nonce
                    )
                )
            );
    }

    /// @notice The key a deal is stored under: it binds the piece commitment (needed by every
    /// proof) to the full terms, so a proof opens it with 64 bytes instead of the whole proposal.
    /// @param pieceCid The piece commitment.
    /// @param terms The proposal's terms hash.
    /// @return key keccak256(pieceCid ‖ terms).
    function dealKey(bytes32 pieceCid, bytes32 terms) internal pure returns (bytes32 key) {
        assembly ("memory-safe") {
            mstore(0x00, pieceCid)
            mstore(0x20, terms)
            key := keccak256(0x00, 0x40)
        }
    }
}
