// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title TokenTransfers
/// @notice How the market's contracts take tokens in: credit what actually arrived.
library TokenTransfers {
    using SafeERC20 for IERC20;

    /// @notice Pulls `amount` of `token` from `from` into this contract with `safeTransferFrom`
    /// and returns the increase of this contract's balance, which is what its books may credit.
    /// @dev For a plain ERC-20 `received == amount`; a token that takes a fee on transfer yields
    /// less, and crediting `received` keeps every custody invariant of the form
    /// `token.balanceOf(this) == Σ books`. Reverts as `safeTransferFrom` does (no allowance,
    /// no balance, a `false` return). Callers reject a zero `amount` with their own error.
    /// @param token The ERC-20 to pull.
    /// @param from The account paying; it must have approved this contract for `amount`.
    /// @param amount Token base units asked for.
    /// @return received Token base units that arrived (this contract's balance after minus before).
    function pullReceived(IERC20 token, address from, uint256 amount) internal returns (uint256 received) {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        received = token.balanceOf(address(this)) - before;
    }
}
