// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStorageMarket} from "../interfaces/IStorageMarket.sol";
import {StorageDealProposal, CloseReason, DealState, DealInfo, DataSetInfo} from "../types/StorageDealTypes.sol";
import {DealProposals} from "../libraries/DealProposals.sol";
import {DealRecords} from "../libraries/DealRecords.sol";
import {DataSets} from "../libraries/DataSets.sol";
import {ProvenPeriods} from "../libraries/ProvenPeriods.sol";
import {MarketEscrow} from "./MarketEscrow.sol";

/// @title DealLedger
/// @notice Deal and data-set storage, lazy settlement and the read side of `StorageMarket`.
/// @dev Payment rule: a deal earns `storagePricePerEpoch` for every epoch of [startEpoch, endEpoch)
/// that lies in a proven period of its data set, counted in O(1) from `ProvenPeriods`.
abstract contract DealLedger is MarketEscrow {
    using DataSets for DataSets.DataSet;
    using ProvenPeriods for mapping(uint256 => uint256);

    uint256 internal constant BPS = 10_000;
    /// @dev Shortest proving period, in epochs: a period needs an epoch before its challenge
    /// window.
    uint256 internal constant MIN_PROVING_PERIOD_EPOCHS = 2;
    /// @dev Longest challenge window, in epochs: `blockhash` reads only the last 256 blocks, so the
    /// challenge epoch's hash stays readable for the whole window with a margin.
    uint256 internal constant MAX_CHALLENGE_WINDOW_EPOCHS = 240;
    /// @dev Most leaves challenged per period (the proof's draws are bounded by
    /// `16 · challengesPerProof`).
    uint256 internal constant MAX_CHALLENGES_PER_PROOF = 16;
    /// @dev Most missed periods in a row before a data set fails: below the 224 periods one
    /// `ProvenPeriods` word flags, which its O(1) count needs.
    uint256 internal constant MAX_CONSECUTIVE_FAULTS = 200;

    uint256 internal immutable _provingPeriodEpochs;
    uint256 internal immutable _challengeWindowEpochs;
    uint256 internal immutable _challengesPerProof;
    uint256 internal immutable _maxConsecutiveFaults;
    uint256 internal immutable _declaredFaultPenaltyBps;
    uint256 internal immutable _reporterBountyBps;
    uint256 internal immutable _faultReportBounty;
    uint256 internal immutable _maxDealDurationEpochs;

    mapping(uint256 dealId => bytes32 key) internal _dealKeys;
    mapping(uint256 dealId => uint256 packedRecord) internal _dealRecords;
    /// @dev Epoch up to which a deal has been settled (exclusive); 0 before its first settlement.
    mapping(uint256 dealId => uint64 epoch) internal _settledUpTo;
    uint256 internal _nextDataSetId = 1;
    mapping(uint256 dataSetId => DataSets.DataSet) internal _dataSets;
    /// @dev The data set new deals of (provider, client) join; 0 when the pair has none open.
    mapping(address provider => mapping(address client => uint256 dataSetId)) internal _currentDataSet;
    mapping(address provider => uint256[] dataSetIds) internal _providerDataSets;
    /// @dev Each data set's sum tree (see `DataSets`): node index → deal id << 64 | leaf count.
    mapping(uint256 dataSetId => mapping(uint256 node => uint256 word)) internal _sumTrees;
    mapping(uint256 dataSetId => mapping(uint256 wordIndex => uint256 word)) internal _provenWords;
    /// @dev Deals closed while a proof window was open; their pieces leave the tree after it.
    mapping(uint256 dataSetId => uint256[] dealIds) internal _pendingRemovals;

    constructor(IERC20 paymentToken, MarketParams memory params) MarketEscrow(paymentToken) {
        if (params.provingPeriodEpochs < MIN_PROVING_PERIOD_EPOCHS)
            revert InvalidMarketParams("provingPeriodEpochs", params.provingPeriodEpochs);
        if (
            params.challengeWindowEpochs == 0 ||
            params.challengeWindowEpochs >= params.provingPeriodEpochs ||
            params.challengeWindowEpochs > MAX_CHALLENGE_WINDOW_EPOCHS
        ) revert InvalidMarketParams("challengeWindowEpochs", params.challengeWindowEpochs);
        if (params.challengesPerProof == 0 || params.challengesPerProof > MAX_CHALLENGES_PER_PROOF) {
            revert InvalidMarketParams("challengesPerProof", params.challengesPerProof);
        }
        if (params.maxConsecutiveFaults == 0 || params.maxConsecutiveFaults > MAX_CONSECUTIVE_FAULTS) {
            revert InvalidMarketParams("maxConsecutiveFaults", params.maxConsecutiveFaults);
        }
        if (params.declaredFaultPenaltyBps > BPS) {
            revert InvalidMarketParams("declaredFaultPenaltyBps", params.declaredFaultPenaltyBps);
        }
        if (params.reporterBountyBps > BPS) revert InvalidMarketParams("reporterBountyBps", params.reporterBountyBps);
        if (params.maxDealDurationEpochs == 0) {
            revert InvalidMarketParams("maxDealDurationEpochs", params.maxDealDurationEpochs);
        }
        _provingPeriodEpochs = params.provingPeriodEpochs;
        _challengeWindowEpochs = params.challengeWindowEpochs;
        _challengesPerProof = params.challengesPerProof;
        _maxConsecutiveFaults = params.maxConsecutiveFaults;
        _declaredFaultPenaltyBps = params.declaredFaultPenaltyBps;
        _reporterBountyBps = params.reporterBountyBps;
        _faultReportBounty = params.faultReportBounty;
        _maxDealDurationEpochs = params.maxDealDurationEpochs;
    }

    // ------------------------------------------------------------------ settlement

    /// @dev Loads an open deal and checks `p` is its proposal.
    function _loadOpenDeal(
        uint256 dealId,
        StorageDealProposal calldata p
    ) internal view returns (DealRecords.Record memory record) {
        uint256 word = _dealRecords[dealId];
        if (word == 0) revert DealNotFound(dealId);
        if (_dealKeys[dealId] != DealProposals.dealKey(p.pieceCid, DealProposals.structHash(p))) {
            revert DealKeyMismatch(dealId);
        }
        record = DealRecords.unpack(word);
        if (record.status != DealRecords.Status.Open) revert DealNotOpen(dealId);
    }

    /// @dev Pays the deal's provider for newly resolved proven epochs and closes the deal when it
    /// ended, failed, was never activated, or (`declared`) its provider declared it lost.
    function _settle(
        uint256 dealId,
        DealRecords.Record memory record,
        StorageDealProposal calldata p,
        bool declared
    ) internal returns (uint256 payment) {
        DataSets.DataSet storage set = _dataSets[record.dataSetId];
        mapping(uint256 => uint256) storage words = _provenWords[record.dataSetId];
        (uint256 upTo, bool closing, CloseReason reason) = _settlementBound(set, words, record, p, declared);
        uint256 from = _settledUpTo[dealId];
        if (from < p.startEpoch) from = p.startEpoch;
        if (upTo > from) {
            payment = p.storagePricePerEpoch * _provenEpochs(set, words, from, upTo);
            // upTo ≤ p.endEpoch, a uint64 (`_settlementBound`).
            _settledUpTo[dealId] = uint64(upTo);
            if (payment != 0) _payFromLocked(p.client, p.provider, payment);
            emit DealSettled(dealId, p.provider, payment, uint64(upTo));
            from = upTo;
        }
        if (closing) {
            uint256 paid = p.storagePricePerEpoch * _provenEpochs(set, words, p.startEpoch, from);
            _close(dealId, record, set, p, reason, paid);
        }
    }

    /// @dev How far a deal can be settled now, and whether (and why) it closes.
    function _settlementBound(
        DataSets.DataSet storage set,
        mapping(uint256 => uint256) storage words,
        DealRecords.Record memory record,
        StorageDealProposal calldata p,
        bool declared
    ) private view returns (uint256 upTo, bool closing, CloseReason reason) {
        if (declared) {
            // A deal never proven by its deadline closes as NotActivated even when declared: a
            // late declaration must not turn the whole-collateral slash into the 5 % penalty.
            if (_missedActivation(set, words, record.addedPeriod, p.startEpoch)) {
                return (p.startEpoch, true, CloseReason.NotActivated);
            }
            upTo = set.periodStart(set.currentPeriod(_provingPeriodEpochs), _provingPeriodEpochs);
            return (upTo < p.endEpoch ? upTo : p.endEpoch, true, CloseReason.FaultDeclared);
        }
        bool failed = set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults);
        if (failed) {
            uint256 failure = set.failureEpoch(_provingPeriodEpochs, _maxConsecutiveFaults);
            if (p.endEpoch > failure) return (failure, true, CloseReason.DataSetFailed);
        }
        if (_missedActivation(set, words, record.addedPeriod, p.startEpoch)) {
            return (p.startEpoch, true, CloseReason.NotActivated);
        }
        uint256 resolved = _resolvedEpoch(set, failed);
        if (p.endEpoch <= resolved) return (p.endEpoch, true, CloseReason.Expired);
        return (resolved, false, CloseReason.Expired);
    }

    /// @dev True once the period holding `startEpoch - 1` has ended without any period from
    /// `addedPeriod` up to it being proven ("fails if not active by its startEpoch").
    function _missedActivation(
        DataSets.DataSet storage set,
        mapping(uint256 => uint256) storage words,
        uint256 addedPeriod,
        uint256 startEpoch
    ) private view returns (bool) {
        uint256 lastBeforeStart = (startEpoch - 1 - set.anchorEpoch) / _provingPeriodEpochs;
        if (block.number < set.periodStart(lastBeforeStart + 1, _provingPeriodEpochs)) return false;
        return _countProven(set, words, lastBeforeStart + 1) == _countProven(set, words, addedPeriod);
    }

    /// @dev Epoch before which every period is final (proven or missed for good).
    function _resolvedEpoch(DataSets.DataSet storage set, bool failed) private view returns (uint256) {
        if (failed) return set.failureEpoch(_provingPeriodEpochs, _maxConsecutiveFaults);
        uint256 period = set.currentPeriod(_provingPeriodEpochs);
        return set.periodStart(set.lastProvenPlusOne > period ? period + 1 : period, _provingPeriodEpochs);
    }

    /// @dev Releases or slashes everything the deal locked. `paid` is what the provider earned
    /// over the deal's life, so the client's refund is the rest of its lock.
    function _close(
        uint256 dealId,
        DealRecords.Record memory record,
        DataSets.DataSet storage set,
        StorageDealProposal calldata p,
        CloseReason reason,
        uint256 paid
    ) private {
        uint256 clientRefund = p.storagePricePerEpoch * (p.endEpoch - p.startEpoch) + p.clientCollateral - paid;
        _unlock(p.client, clientRefund);
        uint256 collateral = p.providerCollateral;
        uint256 returned;
        uint256 toClient;
        uint256 toReporter;
        address reporter;
        if (reason == CloseReason.Expired) {
            returned = collateral;
        } else if (reason == CloseReason.FaultDeclared) {
            toClient = (collateral * _declaredFaultPenaltyBps) / BPS;
            returned = collateral - toClient;
        } else if (reason == CloseReason.DataSetFailed) {
            reporter = set.failureReporter;
            if (reporter != address(0)) toReporter = (collateral * _reporterBountyBps) / BPS;
            toClient = collateral - toReporter;
        } else {
            toClient = collateral;
        }
        if (returned != 0) _unlock(p.provider, returned);
        if (toClient != 0) _payFromLocked(p.provider, p.client, toClient);
        if (toReporter != 0) _payFromLocked(p.provider, reporter, toReporter);

        DealRecords.Status status =
            reason == CloseReason.Expired ? DealRecords.Status.ClosedExpired : DealRecords.Status.ClosedTerminated;
        _dealRecords[dealId] = DealRecords.withStatus(_dealRecords[dealId], status);
        if (reason != CloseReason.DataSetFailed) _removePiece(dealId, record, set);
        emit DealClosed(dealId, reason, clientRefund, returned, toClient, toReporter);
    }

    /// @dev Takes a closed deal's piece out of its data set's sum tree — now, or once the open
    /// proof window ends, so that closing a deal never moves a draw a pending proof answers —
    /// and ends the set for new deals when no open deal is left in it. A failed set is
    /// abandoned as it is.
    function _removePiece(uint256 dealId, DealRecords.Record memory record, DataSets.DataSet storage set) private {
        uint256 dataSetId = record.dataSetId;
        if (set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) return;
        if (--set.openPieces == 0 && _currentDataSet[set.provider][set.client] == dataSetId) {
            _currentDataSet[set.provider][set.client] = 0;
        }
        if (set.treeMayChange(_provingPeriodEpochs, _challengeWindowEpochs)) {
            _applyPendingRemovals(dataSetId, set);
            set.removePiece(_sumTrees[dataSetId], record.pieceIndex, record.payloadLeaves);
            emit PieceRemoved(dataSetId, dealId, record.pieceIndex);
        } else {
            _pendingRemovals[dataSetId].push(dealId);
            ++set.pendingRemovals;
        }
    }

    /// @dev Applies the removals a proof window held back, when the tree may change now.
    /// Amortised O(1) per closed deal: each is applied once.
    function _applyPendingRemovals(uint256 dataSetId, DataSets.DataSet storage set) internal {
        if (set.pendingRemovals == 0 || !set.treeMayChange(_provingPeriodEpochs, _challengeWindowEpochs)) return;
        uint256[] storage pending = _pendingRemovals[dataSetId];
        mapping(uint256 => uint256) storage tree = _sumTrees[dataSetId];
        for (uint256 i; i < pending.length; ++i) {
            uint256 dealId = pending[i];
            DealRecords.Record memory r = DealRecords.unpack(_dealRecords[dealId]);
            set.removePiece(tree, r.pieceIndex, r.payloadLeaves);
            emit PieceRemoved(dataSetId, dealId, r.pieceIndex);
        }
        delete _pendingRemovals[dataSetId];
        set.pendingRemovals = 0;
    }

    /// @dev Epochs of [from, to) that lie in proven periods; from ≥ the set's anchor.
    function _provenEpochs(
        DataSets.DataSet storage set,
        mapping(uint256 => uint256) storage words,
        uint256 from,
        uint256 to
    ) internal view returns (uint256) {
        if (to <= from) return 0;
        uint256 periodEpochs = _provingPeriodEpochs;
        uint256 anchor = set.anchorEpoch;
        uint256 first = (from - anchor) / periodEpochs;
        uint256 last = (to - 1 - anchor) / periodEpochs;
        if (first == last) return words.isProven(first) ? to - from : 0;
        uint256 epochs = (_countProven(set, words, last) - _countProven(set, words, first + 1)) * periodEpochs;
        if (words.isProven(first)) epochs += anchor + (first + 1) * periodEpochs - from;
        if (words.isProven(last)) epochs += to - (anchor + last * periodEpochs);
        return epochs;
    }

    function _countProven(
        DataSets.DataSet storage set,
        mapping(uint256 => uint256) storage words,
        uint256 period
    ) private view returns (uint256) {
        return words.countBefore(period, set.lastProvenPlusOne, set.provenPeriods);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IStorageMarket
    function marketParams() external view returns (MarketParams memory) {
        // Each immutable was set from the field of the same width it is cast back to.
        return
            MarketParams({
                provingPeriodEpochs: uint64(_provingPeriodEpochs),
                challengeWindowEpochs: uint64(_challengeWindowEpochs),
                challengesPerProof: uint8(_challengesPerProof),
                maxConsecutiveFaults: uint8(_maxConsecutiveFaults),
                declaredFaultPenaltyBps: uint16(_declaredFaultPenaltyBps),
                reporterBountyBps: uint16(_reporterBountyBps),
                faultReportBounty: uint128(_faultReportBounty),
                maxDealDurationEpochs: uint64(_maxDealDurationEpochs)
            });
    }

    /// @inheritdoc IStorageMarket
    function isDealProposal(uint256 dealId, StorageDealProposal calldata proposal) external view returns (bool) {
        return
            _dealRecords[dealId] != 0 &&
            _dealKeys[dealId] == DealProposals.dealKey(proposal.pieceCid, DealProposals.structHash(proposal));
    }

    /// @inheritdoc IStorageMarket
    function dealInfo(uint256 dealId) external view returns (DealInfo memory info) {
        uint256 word = _dealRecords[dealId];
        if (word == 0) revert DealNotFound(dealId);
        DealRecords.Record memory record = DealRecords.unpack(word);
        DataSets.DataSet storage set = _dataSets[record.dataSetId];
        info.provider = set.provider;
        info.client = set.client;
        info.dataSetId = record.dataSetId;
        info.addedPeriod = record.addedPeriod;
        info.pieceIndex = record.pieceIndex;
        info.pieceSize = uint64(32) << record.log2Leaves;
        info.endEpoch = record.endEpoch;
        info.settledUpToEpoch = _settledUpTo[dealId];
        info.closed = record.status != DealRecords.Status.Open;
        if (record.status == DealRecords.Status.ClosedExpired) {
            info.state = DealState.Expired;
            return info;
        }
        if (record.status == DealRecords.Status.ClosedTerminated) {
            info.state = DealState.Terminated;
            return info;
        }
        uint256 faults = set.consecutiveFaults(_provingPeriodEpochs);
        info.consecutiveFaults = uint32(faults < _maxConsecutiveFaults ? faults : _maxConsecutiveFaults);
        if (faults >= _maxConsecutiveFaults) {
            bool endedFirst = record.endEpoch <= set.failureEpoch(_provingPeriodEpochs, _maxConsecutiveFaults);
            info.state = endedFirst ? DealState.Expired : DealState.Terminated;
        } else if (block.number >= record.endEpoch) {
            info.state = DealState.Expired;
        } else if (faults != 0) {
            info.state = DealState.Faulted;
        } else if (set.provenPeriods > _countProven(set, _provenWords[record.dataSetId], record.addedPeriod)) {
            info.state = DealState.Active;
        } else {
            info.state = DealState.Published;
        }
    }

    /// @inheritdoc IStorageMarket
    function dataSetInfo(uint256 dataSetId) external view returns (DataSetInfo memory info) {
        DataSets.DataSet storage set = _dataSets[dataSetId];
        if (set.anchorEpoch == 0) return info;
        info.provider = set.provider;
        info.client = set.client;
        info.current = _currentDataSet[set.provider][set.client] == dataSetId;
        info.pieceCount = set.pieceCount;
        info.liveLeaves = set.liveLeaves;
        info.pendingRemovals = set.pendingRemovals;
        info.provenPeriods = set.provenPeriods;
        uint256 periodEpochs = _provingPeriodEpochs;
        uint256 period = set.currentPeriod(periodEpochs);
        uint256 faults = set.consecutiveFaults(periodEpochs);
        info.anchorEpoch = set.anchorEpoch;
        info.currentPeriod = SafeCast.toUint32(period);
        info.challengeEpoch = SafeCast.toUint64(set.challengeEpoch(period, periodEpochs, _challengeWindowEpochs));
        info.deadlineEpoch = SafeCast.toUint64(set.periodStart(period + 1, periodEpochs) - 1);
        info.currentPeriodProven = set.lastProvenPlusOne > period;
        info.failed = faults >= _maxConsecutiveFaults;
        info.consecutiveFaults = uint32(faults < _maxConsecutiveFaults ? faults : _maxConsecutiveFaults);
    }

    /// @inheritdoc IStorageMarket
    function dataSetOf(address provider, address client) external view returns (uint256) {
        return _currentDataSet[provider][client];
    }

    /// @inheritdoc IStorageMarket
    function providerDataSets(
        address provider,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256[] memory dataSetIds, uint256 total) {
        uint256[] storage all = _providerDataSets[provider];
        total = all.length;
        uint256 end = offset + limit < total ? offset + limit : total;
        if (offset >= end) return (new uint256[](0), total);
        dataSetIds = new uint256[](end - offset);
        for (uint256 i = offset; i < end; ++i) dataSetIds[i - offset] = all[i];
    }
}
