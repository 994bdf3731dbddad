// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PieceSizes} from "../libraries/PieceSizes.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";

/// @title LibraryHarness
/// @notice Test-only: exposes the internal `PieceSizes` and `TokenTransfers` functions.
contract LibraryHarness {
    /// @notice Emitted by `pull` with what `TokenTransfers.pullReceived` returned.
    /// @param received Token base units that arrived.
    event Pulled(uint256 received);

    /// @notice `PieceSizes.isPieceSize(size)`.
    /// @param size Padded size in bytes.
    /// @return valid Whether `size` is a power of two ≥ 128.
    function isPieceSize(uint256 size) external pure returns (bool valid) {
        return PieceSizes.isPieceSize(size);
    }

    /// @notice `PieceSizes.minimalPayloadRange(pieceSize)`.
    /// @param pieceSize Padded piece size in bytes (a valid piece size).
    /// @return minPayload Smallest payload accepted, in bytes.
    /// @return maxPayload Largest payload accepted, in bytes.
    function minimalPayloadRange(uint256 pieceSize) external pure returns (uint256 minPayload, uint256 maxPayload) {
        return PieceSizes.minimalPayloadRange(pieceSize);
    }

    /// @notice `PieceSizes.payloadLeaves(payloadSize)`.
    /// @param payloadSize Payload bytes.
    /// @return leaves Leaves holding payload.
    function payloadLeaves(uint256 payloadSize) external pure returns (uint256 leaves) {
        return PieceSizes.payloadLeaves(payloadSize);
    }

    /// @notice Pulls `amount` of `token` from the caller with `TokenTransfers.pullReceived` and
    /// emits `Pulled` with what arrived.
    /// @param token The ERC-20 to pull (the caller approved this harness).
    /// @param amount Token base units asked for.
    /// @return received Token base units that arrived.
    function pull(IERC20 token, uint256 amount) external returns (uint256 received) {
        received = TokenTransfers.pullReceived(token, msg.sender, amount);
        emit Pulled(received);
    }
}
