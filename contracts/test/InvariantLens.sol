// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStorageMarket} from "../interfaces/IStorageMarket.sol";
import {IRepairMarket} from "../interfaces/IRepairMarket.sol";
import {RepairDeal, RepairDealState, BidState} from "../types/RepairTypes.sol";

/// @notice Test-only: reads everything the fund-conservation invariants need in one call.
contract InvariantLens {
    /// @notice Tokens the market holds, Σ (free + locked) over `accounts`, and each locked balance.
    function storageMarket(
        IStorageMarket market,
        address[] calldata accounts
    ) external view returns (uint256 held, uint256 owed, uint256[] memory locked) {
        held = market.token().balanceOf(address(market));
        locked = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            (uint256 free, uint256 lockedBalance) = market.balanceOf(accounts[i]);
            owed += free + lockedBalance;
            locked[i] = lockedBalance;
        }
    }

    /// @notice Tokens RepairMarket holds and what it owes: pledges, open bids, unclaimed amounts of
    /// open deals, withdrawable balances of `accounts`; plus the deals themselves.
    function repairMarket(
        IRepairMarket repair,
        address[] calldata accounts
    ) external view returns (uint256 held, uint256 owed, RepairDeal[] memory deals) {
        held = repair.token().balanceOf(address(repair));
        for (uint256 id = 1; repair.getMiner(id).owner != address(0); ++id) owed += repair.getMiner(id).pledge;
        for (uint256 id = 1; repair.getBid(id).state != BidState.None; ++id) {
            if (repair.getBid(id).state == BidState.Open) owed += repair.getBid(id).amount;
        }
        uint256 count;
        while (repair.getDeal(count + 1).state != RepairDealState.None) ++count;
        deals = new RepairDeal[](count);
        for (uint256 i; i < count; ++i) {
            deals[i] = repair.getDeal(i + 1);
            if (deals[i].state == RepairDealState.Placing || deals[i].state == RepairDealState.Active) {
                owed += deals[i].amount - deals[i].claimed;
            }
        }
        for (uint256 i; i < accounts.length; ++i) owed += repair.balanceOf(accounts[i]);
    }
}
