// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStorageMarket} from "../interfaces/IStorageMarket.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";

/// @title MarketEscrow
/// @notice Free and locked balances of the seed's `ParticipantBalances` (seed 001), in one ERC-20.
/// @dev Invariant: `token.balanceOf(this) == Σ (free + locked)` over all accounts. Every internal
/// helper moves value between balances without creating or destroying it; only `addBalance` and
/// `withdrawBalance` move tokens in or out.
abstract contract MarketEscrow is IStorageMarket, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @dev An account's escrow, in token base units; both halves in one word.
    struct Balance {
        uint128 free;
        uint128 locked;
    }

    IERC20 internal immutable _token;
    mapping(address account => Balance) internal _balances;

    constructor(IERC20 paymentToken) {
        _token = paymentToken;
    }

    /// @inheritdoc IStorageMarket
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IStorageMarket
    function addBalance(address account, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        // Credit what actually arrived, so a token that takes a fee cannot break the invariant.
        uint256 received = TokenTransfers.pullReceived(_token, msg.sender, amount);
        uint256 free = uint256(_balances[account].free) + received;
        // The tested AmountTooLarge check makes the cast exact.
        if (free > type(uint128).max) revert AmountTooLarge(amount);
        _balances[account].free = uint128(free);
        emit BalanceAdded(account, msg.sender, received);
    }

    /// @inheritdoc IStorageMarket
    function withdrawBalance(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Balance storage balance = _balances[msg.sender];
        if (balance.free < amount) revert InsufficientBalance(msg.sender, balance.free, amount);
        // amount ≤ free < 2^128 after the check above.
        balance.free -= uint128(amount);
        _token.safeTransfer(msg.sender, amount);
        emit BalanceWithdrawn(msg.sender, amount);
    }

    /// @inheritdoc IStorageMarket
    function balanceOf(address account) external view returns (uint256 free, uint256 locked) {
        Balance storage balance = _balances[account];
        return (balance.free, balance.locked);
    }

    /// @dev Moves `amount` from free to locked; the caller has checked the free balance.
    function _lock(address account, uint256 amount) internal {
        Balance storage balance = _balances[account];
        uint128 value = SafeCast.toUint128(amount);
        balance.free -= value;
        balance.locked += value;
    }

    /// @dev Moves `amount` of `account`'s locked balance back to free.
    function _unlock(address account, uint256 amount) internal {
        Balance storage balance = _balances[account];
        uint128 value = SafeCast.toUint128(amount);
        balance.locked -= value;
        balance.free += value;
    }

    /// @dev Pays `amount` from `from`'s locked balance into `to`'s free balance.
    function _payFromLocked(address from, address to, uint256 amount) internal {
        uint128 value = SafeCast.toUint128(amount);
        _balances[from].locked -= value;
        _balances[to].free += value;
    }

    /// @dev Pays up to `amount` from `from`'s free balance into `to`'s; returns what was paid.
    function _payFromFreeCapped(address from, address to, uint256 amount) internal returns (uint256 paid) {
        uint256 available = _balances[from].free;
        paid = amount < available ? amount : available;
        // paid ≤ available, a uint128: the casts below are exact.
        if (paid != 0) {
            _balances[from].free -= uint128(paid);
            _balances[to].free += uint128(paid);
        }
    }
}
