// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A payer's signed promise on one lane of a channel (Filecoin's `SignedVoucher`).
/// @dev Signed with EIP-712 by the channel's payer (ECDSA or ERC-1271); the domain fixes the
/// chain id and the contract.
struct Voucher {
    /// @dev The channel the voucher draws on.
    uint256 channelId;
    /// @dev Independent payment stream inside the channel (e.g. one per retrieval deal).
    uint64 lane;
    /// @dev Must exceed the lane's last redeemed nonce: higher nonce wins.
    uint64 nonce;
    /// @dev Cumulative token base units owed on this lane; never below what was redeemed.
    uint256 amount;
    /// @dev Earliest epoch (block number) the voucher can be redeemed; 0 for none.
    uint64 timeLockMin;
    /// @dev Latest epoch the voucher can be redeemed; 0 for none.
    uint64 timeLockMax;
    /// @dev keccak256 of a secret the payee must reveal to redeem; 0 for none.
    bytes32 secretHash;
    /// @dev The channel cannot be collected before this epoch once the voucher is redeemed.
    uint64 minSettleEpoch;
}

/// @notice One payment channel between a payer and a payee.
struct Channel {
    /// @dev Account that opened and funds the channel and signs its vouchers; 0 for no channel.
    address payer;
    /// @dev Account the vouchers pay.
    address payee;
    /// @dev Token base units deposited by the payer.
    uint256 funds;
    /// @dev Token base units owed to the payee: Σ of the lanes' redeemed amounts.
    uint256 redeemed;
    /// @dev Epoch from which `collect` is allowed; 0 while the channel is not settling.
    uint64 settlingAt;
    /// @dev Highest `minSettleEpoch` of the redeemed vouchers.
    uint64 minSettleEpoch;
    /// @dev True once `collect` closed the channel.
    bool collected;
}

/// @notice What a lane has redeemed so far.
struct LaneState {
    /// @dev Nonce of the last voucher redeemed on the lane; 0 before the first.
    uint64 nonce;
    /// @dev Cumulative token base units redeemed on the lane.
    uint256 redeemed;
}
