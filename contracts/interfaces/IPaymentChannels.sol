// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Voucher, Channel, LaneState} from "../types/PaymentChannelTypes.sol";

/// @title IPaymentChannels
/// @notice Seed 001's PaymentChannel, "the only on chain component of a retrieval deal": many
/// unidirectional channels in one contract with Filecoin's paych semantics. The payer funds a
/// channel and signs cumulative vouchers per lane off chain; the payee redeems its best voucher
/// (`updateChannelState`) whenever it likes; either party starts a settle delay (`settle`), after
/// which `collect` pays the payee what the vouchers allow and refunds the payer the rest.
/// @dev Units: token base units of `token()`; epochs are block numbers.
interface IPaymentChannels {
    /// @notice The settle delay given at deployment is outside [min, max] epochs.
    error InvalidSettleDelay(uint64 settleDelay, uint64 min, uint64 max);
    error ZeroAmount();
    error InvalidPayee(address payee);
    error ChannelNotFound(uint256 channelId);
    error NotPayer(uint256 channelId, address caller);
    error NotPayee(uint256 channelId, address caller);
    error NotParticipant(uint256 channelId, address caller);
    /// @notice The channel is already settling (collect allowed from `settlingAt`).
    error ChannelSettling(uint256 channelId, uint64 settlingAt);
    error ChannelNotSettling(uint256 channelId);
    error SettleDelayNotOver(uint256 channelId, uint64 settlingAt, uint256 currentEpoch);
    error ChannelCollected(uint256 channelId);
    error InsufficientBalance(address account, uint256 available, uint256 required);
    /// @notice The voucher is not signed by the channel's payer.
    error InvalidVoucherSignature(uint256 channelId, address payer);
    /// @notice A voucher for lane `lane` must carry a nonce above `laneNonce`.
    error VoucherNonceTooLow(uint256 channelId, uint64 lane, uint64 nonce, uint64 laneNonce);
    /// @notice A voucher may not lower what the lane has redeemed.
    error VoucherAmountTooLow(uint256 channelId, uint64 lane, uint256 amount, uint256 redeemed);
    /// @notice The channel's lanes would owe `required` but it holds `funds`.
    error VoucherExceedsFunds(uint256 channelId, uint256 required, uint256 funds);
    /// @notice The voucher is valid only in [timeLockMin, timeLockMax].
    error VoucherTimeLocked(uint64 timeLockMin, uint64 timeLockMax, uint256 currentEpoch);
    error VoucherSecretMismatch(uint256 channelId, bytes32 secretHash);

    event ChannelCreated(uint256 indexed channelId, address indexed payer, address indexed payee, uint256 amount);
    event ChannelFunded(uint256 indexed channelId, uint256 amount, uint256 funds);
    /// @notice Lane `lane` now owes `amount` in total (`delta` more than before).
    event VoucherRedeemed(uint256 indexed channelId, uint64 indexed lane, uint64 nonce, uint256 amount, uint256 delta);
    event ChannelSettlingStarted(uint256 indexed channelId, uint64 settlingAt);
    /// @notice The channel closed: `toPayee` and `toPayer` were credited to their balances.
    event ChannelCollectedOut(uint256 indexed channelId, uint256 toPayee, uint256 toPayer);
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Opens a channel from the caller to `payee`, pulling `amount` tokens.
    /// @return channelId New channel's id (from 1).
    function createChannel(address payee, uint256 amount) external returns (uint256 channelId);

    /// @notice The payer adds funds to a channel that is not settling.
    function fund(uint256 channelId, uint256 amount) external;

    /// @notice The payee redeems a voucher (before collection, also while settling).
    /// @param secret Preimage of `voucher.secretHash` (empty when it is 0).
    /// @custom:throws NotPayee, ChannelCollected, VoucherTimeLocked, VoucherSecretMismatch,
    /// InvalidVoucherSignature, VoucherNonceTooLow, VoucherAmountTooLow, VoucherExceedsFunds.
    function updateChannelState(Voucher calldata voucher, bytes calldata signature, bytes calldata secret) external;

    /// @notice Payer or payee starts the settle delay: collection is allowed from
    /// max(now + settleDelayEpochs, the vouchers' minSettleEpoch).
    function settle(uint256 channelId) external;

    /// @notice Payer or payee closes a settled channel: what the payee's vouchers redeemed is
    /// credited to the payee's balance, the rest to the payer's; each takes it with `withdraw`
    /// (pull payments: a party the token refuses to pay cannot block the other's funds).
    /// @custom:throws NotParticipant, ChannelNotSettling, SettleDelayNotOver, ChannelCollected.
    function collect(uint256 channelId) external;

    /// @notice Sends `amount` of the caller's balance (credited by `collect`), token base units.
    /// @custom:throws ZeroAmount, InsufficientBalance.
    function withdraw(uint256 amount) external;

    /// @notice What `account` can withdraw, token base units.
    function balanceOf(address account) external view returns (uint256);

    function token() external view returns (IERC20);
    /// @notice Epochs between `settle` and the first allowed `collect`.
    function settleDelayEpochs() external view returns (uint64);
    function getChannel(uint256 channelId) external view returns (Channel memory);
    function laneState(uint256 channelId, uint64 lane) external view returns (LaneState memory);
    /// @notice The EIP-712 digest the payer signs for `voucher`.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);
    function nextChannelId() external view returns (uint256);
}
