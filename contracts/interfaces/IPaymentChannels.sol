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
/// @dev Units: amounts are ERC-20 base units of `token()`; epochs are block numbers. A channel
/// goes open → settling (`settle`) → collected (`collect`); the payee can redeem until it is
/// collected. Money leaves only through `withdraw` (pull payments), so the contract holds
/// exactly Σ funds of uncollected channels + Σ `balanceOf` over accounts.
interface IPaymentChannels {
    // ---------------------------------------------------------------- errors

    /// @notice The settle delay given at deployment is outside [min, max] epochs
    /// (`MIN_SETTLE_DELAY_EPOCHS`, `MAX_SETTLE_DELAY_EPOCHS`).
    error InvalidSettleDelay(uint64 settleDelay, uint64 min, uint64 max);
    /// @notice An amount of zero was given where a positive amount is required (`createChannel`,
    /// `fund`, `withdraw`).
    error ZeroAmount();
    /// @notice A channel's payee may be neither the zero address nor the payer itself.
    error InvalidPayee(address payee);
    /// @notice No channel with this id was created.
    error ChannelNotFound(uint256 channelId);
    /// @notice Only the channel's payer may fund it.
    error NotPayer(uint256 channelId, address caller);
    /// @notice Only the channel's payee may redeem vouchers on it.
    error NotPayee(uint256 channelId, address caller);
    /// @notice Only the channel's payer or payee may settle or collect it.
    error NotParticipant(uint256 channelId, address caller);
    /// @notice The channel is already settling (collect allowed from epoch `settlingAt`): it can
    /// be neither funded nor settled again.
    error ChannelSettling(uint256 channelId, uint64 settlingAt);
    /// @notice `collect` before anyone called `settle`.
    error ChannelNotSettling(uint256 channelId);
    /// @notice `collect` at epoch `currentEpoch`, before the settle delay ends at `settlingAt`.
    error SettleDelayNotOver(uint256 channelId, uint64 settlingAt, uint256 currentEpoch);
    /// @notice The channel was collected: it is closed for good.
    error ChannelCollected(uint256 channelId);
    /// @notice `account` can withdraw `available` token base units, but `required` were asked.
    error InsufficientBalance(address account, uint256 available, uint256 required);
    /// @notice The voucher is not signed by the channel's payer (EIP-712 digest `hashVoucher`,
    /// ECDSA or ERC-1271).
    error InvalidVoucherSignature(uint256 channelId, address payer);
    /// @notice A voucher for lane `lane` must carry a nonce above `laneNonce`, the lane's last
    /// redeemed one (paych: a higher nonce supersedes).
    error VoucherNonceTooLow(uint256 channelId, uint64 lane, uint64 nonce, uint64 laneNonce);
    /// @notice A voucher may not lower what the lane has redeemed (`amount` < `redeemed`,
    /// token base units): vouchers are cumulative.
    error VoucherAmountTooLow(uint256 channelId, uint64 lane, uint256 amount, uint256 redeemed);
    /// @notice The channel's lanes would owe `required` token base units in total but it holds
    /// `funds`.
    error VoucherExceedsFunds(uint256 channelId, uint256 required, uint256 funds);
    /// @notice The voucher is valid only in epochs [timeLockMin, timeLockMax] (timeLockMax 0: no
    /// upper bound), and the current epoch is `currentEpoch`.
    error VoucherTimeLocked(uint64 timeLockMin, uint64 timeLockMax, uint256 currentEpoch);
    /// @notice The secret given does not hash (keccak256) to the voucher's `secretHash`.
    error VoucherSecretMismatch(uint256 channelId, bytes32 secretHash);

    // ---------------------------------------------------------------- events

    /// @notice `payer` opened channel `channelId` to `payee` holding `amount`.
    /// @param channelId The new channel's id.
    /// @param payer The account that funds the channel and signs its vouchers.
    /// @param payee The account the vouchers pay.
    /// @param amount Token base units that arrived from the payer (the channel's funds).
    event ChannelCreated(uint256 indexed channelId, address indexed payer, address indexed payee, uint256 amount);
    /// @notice The payer added `amount` to the channel, which now holds `funds`.
    /// @param channelId The channel funded.
    /// @param amount Token base units that arrived from the payer.
    /// @param funds Token base units the channel holds in total after this.
    event ChannelFunded(uint256 indexed channelId, uint256 amount, uint256 funds);
    /// @notice Lane `lane` now owes `amount` in total (`delta` more than before).
    /// @param channelId The channel.
    /// @param lane The lane the voucher is for.
    /// @param nonce The voucher's nonce, now the lane's.
    /// @param amount Cumulative token base units the lane owes the payee.
    /// @param delta Token base units this voucher added to what the channel owes.
    event VoucherRedeemed(uint256 indexed channelId, uint64 indexed lane, uint64 nonce, uint256 amount, uint256 delta);
    /// @notice A participant started the settle delay: the channel can be collected from
    /// `settlingAt`.
    /// @param channelId The channel.
    /// @param settlingAt First epoch at which `collect` is allowed (a later redeemed voucher's
    /// `minSettleEpoch` can postpone it, without another event).
    event ChannelSettlingStarted(uint256 indexed channelId, uint64 settlingAt);
    /// @notice The channel closed: `toPayee` and `toPayer` were credited to their balances.
    /// @param channelId The channel.
    /// @param toPayee Token base units credited to the payee: Σ of the lanes' redeemed amounts.
    /// @param toPayer Token base units credited to the payer: the channel's funds less `toPayee`.
    event ChannelCollectedOut(uint256 indexed channelId, uint256 toPayee, uint256 toPayer);
    /// @notice `account` withdrew `amount` from its balance.
    /// @param account The account paid.
    /// @param amount Token base units sent.
    event Withdrawn(address indexed account, uint256 amount);

    // ---------------------------------------------------------------- channels

    /// @notice Opens a channel from the caller to `payee`, pulling `amount` tokens (the caller
    /// must have approved this contract); the channel holds what arrived.
    /// @param payee The account the channel pays; not zero, not the caller.
    /// @param amount Token base units, > 0.
    /// @return channelId New channel's id (from 1).
    /// @custom:throws InvalidPayee, ZeroAmount; token transfer errors bubble up.
    function createChannel(address payee, uint256 amount) external returns (uint256 channelId);

    /// @notice The payer adds funds to a channel that is not settling, pulling `amount` tokens
    /// (the caller must have approved this contract); the channel gains what arrived.
    /// @param channelId A channel of the caller that is neither settling nor collected.
    /// @param amount Token base units, > 0.
    /// @custom:throws ChannelNotFound, ChannelCollected, NotPayer, ChannelSettling, ZeroAmount;
    /// token transfer errors bubble up.
    function fund(uint256 channelId, uint256 amount) external;

    /// @notice The payee redeems a voucher (before collection, also while settling): its lane
    /// then owes `voucher.amount` in total, and the channel owes the sum over its lanes, which
    /// may not exceed its funds. A voucher with a later `minSettleEpoch` also postpones a
    /// settlement under way to that epoch.
    /// @param voucher The payer's voucher for `voucher.channelId`.
    /// @param signature The payer's signature over `hashVoucher(voucher)` (ECDSA or ERC-1271).
    /// @param secret Preimage of `voucher.secretHash` (empty when it is 0).
    /// @custom:throws ChannelNotFound, ChannelCollected, NotPayee, VoucherTimeLocked,
    /// VoucherSecretMismatch, InvalidVoucherSignature, VoucherNonceTooLow, VoucherAmountTooLow,
    /// VoucherExceedsFunds.
    function updateChannelState(Voucher calldata voucher, bytes calldata signature, bytes calldata secret) external;

    /// @notice Payer or payee starts the settle delay: collection is allowed from
    /// max(now + settleDelayEpochs, the vouchers' minSettleEpoch). The payee can still redeem
    /// vouchers until the channel is collected.
    /// @param channelId A channel of the caller that is not settling yet.
    /// @custom:throws ChannelNotFound, ChannelCollected, NotParticipant, ChannelSettling.
    function settle(uint256 channelId) external;

    /// @notice Payer or payee closes a settled channel: what the payee's vouchers redeemed is
    /// credited to the payee's balance, the rest to the payer's; each takes it with `withdraw`
    /// (pull payments: a party the token refuses to pay cannot block the other's funds).
    /// @param channelId A channel of the caller whose settle delay is over.
    /// @custom:throws ChannelNotFound, ChannelCollected, NotParticipant, ChannelNotSettling,
    /// SettleDelayNotOver.
    function collect(uint256 channelId) external;

    /// @notice Sends `amount` of the caller's balance (credited by `collect`) to the caller.
    /// @param amount Token base units, > 0, at most `balanceOf(caller)`.
    /// @custom:throws ZeroAmount, InsufficientBalance; token transfer errors bubble up.
    function withdraw(uint256 amount) external;

    // ---------------------------------------------------------------- views

    /// @notice What `account` can withdraw.
    /// @param account Any account.
    /// @return Token base units credited to `account` by `collect` and not yet withdrawn.
    function balanceOf(address account) external view returns (uint256);

    /// @notice The ERC-20 token every channel holds, fixed at deployment.
    /// @return The token.
    function token() external view returns (IERC20);

    /// @notice Epochs between `settle` and the first allowed `collect`, fixed at deployment in
    /// [MIN_SETTLE_DELAY_EPOCHS, MAX_SETTLE_DELAY_EPOCHS].
    /// @return The settle delay in epochs.
    function settleDelayEpochs() external view returns (uint64);

    /// @notice A channel's state.
    /// @param channelId Any id.
    /// @return The channel (all zero when it does not exist; a collected channel has zero funds).
    function getChannel(uint256 channelId) external view returns (Channel memory);

    /// @notice What a lane of a channel has redeemed.
    /// @param channelId Any id.
    /// @param lane Any lane.
    /// @return The lane's last redeemed nonce and cumulative redeemed amount (zero when unused).
    function laneState(uint256 channelId, uint64 lane) external view returns (LaneState memory);

    /// @notice The EIP-712 digest the payer signs for `voucher`: domain ("RepairMarket
    /// PaymentChannels", "1", this chain, this contract), type `VOUCHER_TYPEHASH`.
    /// @param voucher Any voucher.
    /// @return The digest `updateChannelState` checks the payer's signature against.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);

    /// @notice Id the next created channel will get.
    /// @return The next channel id (ids start at 1).
    function nextChannelId() external view returns (uint256);
}
