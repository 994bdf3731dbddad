// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IRepairMarket} from "../interfaces/IRepairMarket.sol";
import {IStorageMarket} from "../interfaces/IStorageMarket.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";
import {RepairMiner, RepairAsk, Bid, RepairDeal, RepairDealState, PieceSlot} from "../types/RepairTypes.sol";

/// @title RepairLedger
/// @notice Storage, money movements and earnings accrual shared by the two halves of
/// `RepairMarket`.
/// @dev Token custody invariant: `token.balanceOf(this) == Σ pledges + Σ open bids' amounts +
/// Σ (open deals' amount − claimed) + Σ withdrawable balances`. Money leaves only through
/// `withdraw` and `withdrawPledge`; everything else moves it between those buckets.
abstract contract RepairLedger is IRepairMarket, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_PIECES = 64;
    /// @dev `CodingParams.scheme` of a Reed–Solomon file.
    uint8 internal constant CODING_REED_SOLOMON = 0;
    /// @dev `CodingParams.scheme` of a Clay file.
    uint8 internal constant CODING_CLAY = 1;

    IERC20 internal immutable _token;
    IStorageMarket internal immutable _storageMarket;
    uint256 internal immutable _pledgePerByte;
    uint256 internal immutable _placementWindowEpochs;
    uint256 internal immutable _repairWindowEpochs;
    uint256 internal immutable _lostPieceSlashBps;
    uint256 internal immutable _dataLossSlashBps;
    uint256 internal immutable _slashBountyBps;
    uint256 internal immutable _lossReportBountyBps;
    uint256 internal immutable _maxDealDurationEpochs;

    uint256 internal _nextMinerId = 1;
    uint256 internal _nextAskId = 1;
    uint256 internal _nextBidId = 1;
    uint256 internal _nextDealId = 1;

    mapping(uint256 minerId => RepairMiner) internal _miners;
    mapping(uint256 askId => RepairAsk) internal _asks;
    mapping(uint256 bidId => Bid) internal _bids;
    mapping(uint256 dealId => RepairDeal) internal _deals;
    mapping(uint256 dealId => mapping(uint256 index => PieceSlot)) internal _pieces;
    /// @dev Pieces of a deal currently assigned to each provider (at most one).
    mapping(uint256 dealId => mapping(address provider => uint256 count)) internal _providerPieces;
    mapping(uint256 storageDealId => bool used) internal _storageDealUsed;
    mapping(address account => uint256 amount) internal _withdrawable;
    /// @dev Every repair deal made for a droot, oldest first.
    mapping(bytes32 droot => uint256[] dealIds) internal _dealsOfDroot;
    /// @dev Every repair deal each miner made, oldest first.
    mapping(uint256 minerId => uint256[] dealIds) internal _dealsOfMiner;
    /// @dev Each miner's newest ask.
    mapping(uint256 minerId => uint256 askId) internal _latestAskOf;

    constructor(IERC20 paymentToken, IStorageMarket market, RepairParams memory params) {
        if (params.placementWindowEpochs == 0) {
            revert InvalidRepairParams("placementWindowEpochs", params.placementWindowEpochs);
        }
        if (params.repairWindowEpochs == 0) revert InvalidRepairParams("repairWindowEpochs", params.repairWindowEpochs);
        if (params.lostPieceSlashBps > BPS) revert InvalidRepairParams("lostPieceSlashBps", params.lostPieceSlashBps);
        if (params.dataLossSlashBps > BPS) revert InvalidRepairParams("dataLossSlashBps", params.dataLossSlashBps);
        if (params.slashBountyBps > BPS) revert InvalidRepairParams("slashBountyBps", params.slashBountyBps);
        // A report bounty above the per-piece slash would pay more for finding a loss than the
        // miner is fined for leaving it.
        if (params.lossReportBountyBps > params.lostPieceSlashBps) {
            revert InvalidRepairParams("lossReportBountyBps", params.lossReportBountyBps);
        }
        if (params.maxDealDurationEpochs == 0) {
            revert InvalidRepairParams("maxDealDurationEpochs", params.maxDealDurationEpochs);
        }
        if (address(market.token()) != address(paymentToken)) {
            revert InvalidRepairParams("storageMarket.token", uint256(uint160(address(market.token()))));
        }
        _token = paymentToken;
        _storageMarket = market;
        _pledgePerByte = params.pledgePerByte;
        _placementWindowEpochs = params.placementWindowEpochs;
        _repairWindowEpochs = params.repairWindowEpochs;
        _lostPieceSlashBps = params.lostPieceSlashBps;
        _dataLossSlashBps = params.dataLossSlashBps;
        _slashBountyBps = params.slashBountyBps;
        _lossReportBountyBps = params.lossReportBountyBps;
        _maxDealDurationEpochs = params.maxDealDurationEpochs;
    }

    // ------------------------------------------------------------------ money

    /// @dev Pulls `amount` (> 0) from the caller; returns what arrived (`TokenTransfers`).
    function _pull(uint256 amount) internal returns (uint256 received) {
        if (amount == 0) revert ZeroAmount();
        received = TokenTransfers.pullReceived(_token, msg.sender, amount);
    }

    /// @dev Sends tokens out; callers have already debited the source bucket.
    function _push(address to, uint256 amount) internal {
        _token.safeTransfer(to, amount);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount != 0) _withdrawable[account] += amount;
    }

    /// @dev Takes up to `amount` from the miner's pledge and splits it between the client and the
    /// caller (bounty); returns what was taken.
    function _slash(uint256 minerId, address client, uint256 amount) internal returns (uint256 taken, uint256 bounty) {
        RepairMiner storage miner = _miners[minerId];
        taken = amount < miner.pledge ? amount : miner.pledge;
        miner.pledge -= taken;
        bounty = (taken * _slashBountyBps) / BPS;
        _credit(msg.sender, bounty);
        _credit(client, taken - bounty);
    }

    // ------------------------------------------------------------------ accrual

    /// @dev Brings `paidEpochs` up to now (or the deal's end).
    function _accrue(RepairDeal storage deal) internal {
        uint256 to = _accrualEnd(deal);
        if (to <= deal.accruedUpTo) return;
        // to ≤ deal.endEpoch, a uint64 (`_accrualEnd`), and the paid epochs are fewer.
        deal.paidEpochs += uint64(_unaccruedPaidEpochs(deal, to));
        deal.accruedUpTo = uint64(to);
    }

    function _accrualEnd(RepairDeal storage deal) internal view returns (uint256) {
        return block.number < deal.endEpoch ? block.number : deal.endEpoch;
    }

    /// @dev Paid epochs in [accruedUpTo, to): an epoch is paid while the deal is Active and every
    /// lost piece is still within its repair window.
    function _unaccruedPaidEpochs(RepairDeal storage deal, uint256 to) internal view returns (uint256) {
        uint256 from = deal.accruedUpTo;
        if (deal.state != RepairDealState.Active || to <= from) return 0;
        if (deal.lost != 0) {
            uint256 cutoff = uint256(deal.oldestLossEpoch) + _repairWindowEpochs;
            if (cutoff < to) to = cutoff;
        }
        return to > from ? to - from : 0;
    }

    /// @dev What the miner has earned in total: amount · paidEpochs / duration.
    function _earned(RepairDeal storage deal) internal view returns (uint256) {
        return (deal.amount * deal.paidEpochs) / (deal.endEpoch - deal.startEpoch);
    }

    /// @dev Pays the miner's owner what it earned and has not claimed.
    function _payEarnings(uint256 dealId, RepairDeal storage deal) internal returns (uint256 amount) {
        uint256 earned = _earned(deal);
        amount = earned - deal.claimed;
        if (amount != 0) {
            deal.claimed = earned;
            _credit(_miners[deal.minerId].owner, amount);
            emit EarningsClaimed(dealId, deal.minerId, amount);
        }
    }

    /// @dev Ends a deal (ran out, or lost): pays earnings, refunds the rest, releases power.
    function _finish(uint256 dealId, RepairDeal storage deal, RepairDealState state) internal returns (uint256 refund) {
        _payEarnings(dealId, deal);
        refund = deal.amount - deal.claimed;
        _credit(deal.client, refund);
        _miners[deal.minerId].powerBytes -= deal.size;
        deal.state = state;
    }

    /// @dev The deal's pledge share: what backs it, the base of its slashes.
    function _dealPledge(RepairDeal storage deal) internal view returns (uint256) {
        return uint256(deal.size) * _pledgePerByte;
    }

    /// @dev Reverts unless the caller is the miner's owner or worker.
    function _requireOperator(uint256 minerId) internal view {
        RepairMiner storage miner = _miners[minerId];
        if (miner.owner == address(0)) revert MinerNotFound(minerId);
        if (msg.sender != miner.owner && msg.sender != miner.worker) revert NotMinerOperator(minerId, msg.sender);
    }
}
