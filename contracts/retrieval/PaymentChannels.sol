// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";
import {Voucher, Channel, LaneState} from "../types/PaymentChannelTypes.sol";

/// @title PaymentChannels
/// @notice Retrieval payments: see `IPaymentChannels`.
/// @dev Token custody invariant: `token.balanceOf(this) == Σ funds` over uncollected channels
/// `+ Σ balanceOf` over accounts. Tokens leave only through `withdraw`.
contract PaymentChannels is IPaymentChannels, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of `Voucher`.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint256 channelId,uint64 lane,uint64 nonce,uint256 amount,uint64 timeLockMin,"
        "uint64 timeLockMax,bytes32 secretHash,uint64 minSettleEpoch)"
    );

    IERC20 private immutable _token;
    uint64 private immutable _settleDelayEpochs;
    uint256 private _nextChannelId = 1;
    mapping(uint256 channelId => Channel) private _channels;
    mapping(uint256 channelId => mapping(uint64 lane => LaneState)) private _lanes;
    mapping(address account => uint256 amount) private _withdrawable;

    /// @notice Shortest settle delay: at least one whole block after `settle` in which the payee
    /// can still redeem before anyone can `collect`.
    uint64 public constant MIN_SETTLE_DELAY_EPOCHS = 2;
    /// @notice Longest settle delay (2^32 − 1 epochs): `block.number + delay` never wraps the
    /// 64-bit `settlingAt`.
    uint64 public constant MAX_SETTLE_DELAY_EPOCHS = type(uint32).max;

    /// @notice Deploys the channels contract for one token and one settle delay.
    /// @param paymentToken Token every channel holds.
    /// @param settleDelay Epochs between `settle` and `collect` (the payee's last chance to redeem),
    /// in [MIN_SETTLE_DELAY_EPOCHS, MAX_SETTLE_DELAY_EPOCHS].
    /// @custom:throws InvalidSettleDelay.
    constructor(IERC20 paymentToken, uint64 settleDelay) EIP712("RepairMarket PaymentChannels", "1") {
        if (settleDelay < MIN_SETTLE_DELAY_EPOCHS || settleDelay > MAX_SETTLE_DELAY_EPOCHS) {
            revert InvalidSettleDelay(settleDelay, MIN_SETTLE_DELAY_EPOCHS, MAX_SETTLE_DELAY_EPOCHS);
        }
        _token = paymentToken;
        _settleDelayEpochs = settleDelay;
    }

    /// @inheritdoc IPaymentChannels
    function createChannel(address payee, uint256 amount) external nonReentrant returns (uint256 channelId) {
        if (payee == address(0) || payee == msg.sender) revert InvalidPayee(payee);
        uint256 received = _pull(amount);
        channelId = _nextChannelId++;
        Channel storage channel = _channels[channelId];
        channel.payer = msg.sender;
        channel.payee = payee;
        channel.funds = received;
        emit ChannelCreated(channelId, msg.sender, payee, received);
    }

    /// @inheritdoc IPaymentChannels
    function fund(uint256 channelId, uint256 amount) external nonReentrant {
        Channel storage channel = _channel(channelId);
        if (msg.sender != channel.payer) revert NotPayer(channelId, msg.sender);
        if (channel.settlingAt != 0) revert ChannelSettling(channelId, channel.settlingAt);
        uint256 received = _pull(amount);
        channel.funds += received;
        emit ChannelFunded(channelId, received, channel.funds);
    }

    /// @inheritdoc IPaymentChannels
    function updateChannelState(Voucher calldata voucher, bytes calldata signature, bytes calldata secret) external {
        uint256 channelId = voucher.channelId;
        Channel storage channel = _channel(channelId);
        if (msg.sender != channel.payee) revert NotPayee(channelId, msg.sender);
        if (block.number < voucher.timeLockMin || (voucher.timeLockMax != 0 && block.number > voucher.timeLockMax))
            revert VoucherTimeLocked(voucher.timeLockMin, voucher.timeLockMax, block.number);
        if (voucher.secretHash != bytes32(0) && keccak256(secret) != voucher.secretHash) {
            revert VoucherSecretMismatch(channelId, voucher.secretHash);
        }
        if (!SignatureChecker.isValidSignatureNow(channel.payer, _hashVoucher(voucher), signature)) {
            revert InvalidVoucherSignature(channelId, channel.payer);
        }
        LaneState storage lane = _lanes[channelId][voucher.lane];
        if (voucher.nonce <= lane.nonce) revert VoucherNonceTooLow(channelId, voucher.lane, voucher.nonce, lane.nonce);
        if (voucher.amount < lane.redeemed) {
            revert VoucherAmountTooLow(channelId, voucher.lane, voucher.amount, lane.redeemed);
        }
        uint256 delta = voucher.amount - lane.redeemed;
        uint256 redeemed = channel.redeemed + delta;
        if (redeemed > channel.funds) revert VoucherExceedsFunds(channelId, redeemed, channel.funds);
        lane.nonce = voucher.nonce;
        lane.redeemed = voucher.amount;
        channel.redeemed = redeemed;
        if (voucher.minSettleEpoch > channel.minSettleEpoch) {
            channel.minSettleEpoch = voucher.minSettleEpoch;
            // A later lower bound also postpones a settlement already under way.
            if (channel.settlingAt != 0 && channel.settlingAt < voucher.minSettleEpoch) {
                channel.settlingAt = voucher.minSettleEpoch;
            }
        }
        emit VoucherRedeemed(channelId, voucher.lane, voucher.nonce, voucher.amount, delta);
    }

    /// @inheritdoc IPaymentChannels
    function settle(uint256 channelId) external {
        Channel storage channel = _channel(channelId);
        if (msg.sender != channel.payer && msg.sender != channel.payee) revert NotParticipant(channelId, msg.sender);
        if (channel.settlingAt != 0) revert ChannelSettling(channelId, channel.settlingAt);
        uint256 settlingAt = block.number + _settleDelayEpochs;
        if (settlingAt < channel.minSettleEpoch) settlingAt = channel.minSettleEpoch;
        uint64 at = SafeCast.toUint64(settlingAt);
        channel.settlingAt = at;
        emit ChannelSettlingStarted(channelId, at);
    }

    /// @inheritdoc IPaymentChannels
    function collect(uint256 channelId) external nonReentrant {
        Channel storage channel = _channel(channelId);
        if (msg.sender != channel.payer && msg.sender != channel.payee) revert NotParticipant(channelId, msg.sender);
        if (channel.settlingAt == 0) revert ChannelNotSettling(channelId);
        if (block.number < channel.settlingAt) revert SettleDelayNotOver(channelId, channel.settlingAt, block.number);
        channel.collected = true;
        uint256 toPayee = channel.redeemed;
        uint256 toPayer = channel.funds - toPayee;
        channel.funds = 0;
        _withdrawable[channel.payee] += toPayee;
        _withdrawable[channel.payer] += toPayer;
        emit ChannelCollectedOut(channelId, toPayee, toPayer);
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 available = _withdrawable[msg.sender];
        if (available < amount) revert InsufficientBalance(msg.sender, available, amount);
        _withdrawable[msg.sender] = available - amount;
        _token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IPaymentChannels
    function balanceOf(address account) external view returns (uint256) {
        return _withdrawable[account];
    }

    /// @inheritdoc IPaymentChannels
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IPaymentChannels
    function settleDelayEpochs() external view returns (uint64) {
        return _settleDelayEpochs;
    }

    /// @inheritdoc IPaymentChannels
    function getChannel(uint256 channelId) external view returns (Channel memory) {
        return _channels[channelId];
    }

    /// @inheritdoc IPaymentChannels
    function laneState(uint256 channelId, uint64 lane) external view returns (LaneState memory) {
        return _lanes[channelId][lane];
    }

    /// @inheritdoc IPaymentChannels
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _hashVoucher(voucher);
    }

    /// @inheritdoc IPaymentChannels
    function nextChannelId() external view returns (uint256) {
        return _nextChannelId;
    }

    // ------------------------------------------------------------------ internals

    function _hashVoucher(Voucher calldata v) private view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        VOUCHER_TYPEHASH,
                        v.channelId,
                        v.lane,
                        v.nonce,
                        v.amount,
                        v.timeLockMin,
                        v.timeLockMax,
                        v.secretHash,
                        v.minSettleEpoch
                    )
                )
            );
    }

    /// @dev A channel that exists and has not been collected.
    function _channel(uint256 channelId) private view returns (Channel storage channel) {
        channel = _channels[channelId];
        if (channel.payer == address(0)) revert ChannelNotFound(channelId);
        if (channel.collected) revert ChannelCollected(channelId);
    }

    /// @dev Pulls `amount` (> 0) from the caller; returns what arrived (`TokenTransfers`).
    function _pull(uint256 amount) private returns (uint256 received) {
        if (amount == 0) revert ZeroAmount();
        received = TokenTransfers.pullReceived(_token, msg.sender, amount);
    }
}
