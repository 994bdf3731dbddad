// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title DataSets
/// @notice A data set: the pieces one provider stores for one client, proven together once per
/// proving period (FilOz PDP's data set, one per (provider, client) pair here), the period
/// arithmetic around it, and the sum tree that draws challenges over its live leaves only.
/// @dev Pieces are numbered 1, 2, … in the order they join. The sum tree is a Fenwick tree over the
/// pieces' payload leaf counts (padding leaves are never drawn): node i holds the leaves of pieces
/// (i − lowbit(i), i], so the piece holding live leaf r is found in log2(pieceCount) reads and a
/// removed piece (weight set to 0) is never drawn (FilOz PDP's `sumTreeCounts` / `findPieceIds`).
/// Each node word also carries the deal id of its own piece: bits 0..63 = subtree leaf count, bits
/// 64..255 = deal id.
library DataSets {
    /// @notice One data set's state; three words plus one written only on failure.
    struct DataSet {
        /// @dev Epoch at which period 0 starts (the block of the first piece's publish).
        uint64 anchorEpoch;
        /// @dev Last proven period index + 1; 0 when none has been proven.
        uint32 lastProvenPlusOne;
        /// @dev Number of proven periods.
        uint32 provenPeriods;
        /// @dev Last period recorded by `reportFault`, + 1.
        uint32 lastReportedPlusOne;
        /// @dev Period (+ 1) whose challenge range `snapshotPieces`/`snapshotLeaves` froze.
        uint32 snapshotPeriodPlusOne;
        /// @dev Piece count when a piece first joined after that period's challenge epoch.
        uint64 snapshotPieces;
        /// @dev Pieces ever added (the sum tree's size).
        uint64 pieceCount;
        /// @dev Leaves of the pieces in the sum tree (open deals and removals not yet applied).
        uint64 liveLeaves;
        /// @dev `liveLeaves` of the first `snapshotPieces` pieces, frozen with them.
        uint64 snapshotLeaves;
        /// @dev Removals waiting because a proof window was open when their deals closed.
        uint32 pendingRemovals;
        /// @dev Pieces of open deals; the set takes no new deals once this falls to 0.
        uint32 openPieces;
        /// @dev The provider that publishes and proves the set's deals.
        address provider;
        /// @dev The client that signed every deal in the set.
        address client;
        /// @dev Whoever recorded the period that failed the set; earns the slashing bounty.
        address failureReporter;
    }

    uint256 private constant WEIGHT_MASK = (1 << 64) - 1;

    /// @notice Index of the period containing the current block. The set must have started.
    /// @param s The data set.
    /// @param periodEpochs Proving period length in epochs (P).
    /// @return The current period's index, counted from 0 at `anchorEpoch`.
    function currentPeriod(DataSet storage s, uint256 periodEpochs) internal view returns (uint256) {
        return (block.number - s.anchorEpoch) / periodEpochs;
    }

    /// @notice First epoch of period `period`.
    /// @param s The data set.
    /// @param period Period index.
    /// @param periodEpochs Proving period length in epochs (P).
    /// @return The block number at which the period starts.
    function periodStart(DataSet storage s, uint256 period, uint256 periodEpochs) internal view returns (uint256) {
        return s.anchorEpoch + period * periodEpochs;
    }

    /// @notice The epoch whose block hash seeds period `period`'s challenges: `windowEpochs`
    /// before the period's end.
    /// @param s The data set.
    /// @param period Period index.
    /// @param periodEpochs Proving period length in epochs (P).
    /// @param windowEpochs Challenge window length in epochs (W).
    /// @return The challenge epoch (block number).
    function challengeEpoch(
        DataSet storage s,
        uint256 period,
        uint256 periodEpochs,
        uint256 windowEpochs
    ) internal view returns (uint256) {
        return s.anchorEpoch + (period + 1) * periodEpochs - windowEpochs;
    }

    /// @notice Periods missed in a row before the current one (0 when the latest resolved period
    /// was proven or the set has not started).
    /// @param s The data set.
    /// @param periodEpochs Proving period length in epochs (P).
    /// @return Number of missed periods in a row.
    function consecutiveFaults(DataSet storage s, uint256 periodEpochs) internal view returns (uint256) {
        if (s.anchorEpoch == 0) return 0;
        uint256 period = currentPeriod(s, periodEpochs);
        uint256 lastProvenPlusOne = s.lastProvenPlusOne;
        return period > lastProvenPlusOne ? period - lastProvenPlusOne : 0;
    }

    /// @notice Epoch at which the set fails if nothing more is proven: the end of the
    /// `maxFaults`-th missed period after the last proven one.
    /// @param s The data set.
    /// @param periodEpochs Proving period length in epochs (P).
    /// @param maxFaults Missed periods in a row that fail a set.
    /// @return The failure epoch (block number).
    function failureEpoch(DataSet storage s, uint256 periodEpochs, uint256 maxFaults) internal view returns (uint256) {
        return s.anchorEpoch + (uint256(s.lastProvenPlusOne) + maxFaults) * periodEpochs;
    }

    /// @notice Whether the set has missed `maxFaults` periods in a row.
    /// @param s The data set.
    /// @param periodEpochs Proving period length in epochs (P).
    /// @param maxFaults Missed periods in a row that fail a set.
    /// @return True once the current block is at or after `failureEpoch`.
    function hasFailed(DataSet storage s, uint256 periodEpochs, uint256 maxFaults) internal view returns (bool) {
        return s.anchorEpoch != 0 && block.number >= failureEpoch(s, periodEpochs, maxFaults);
    }

    /// @notice Whether the set's tree may change now without moving a draw of the current
    /// period: the period is proven, or its challenge epoch (whose hash seeds the draws) is
    /// still ahead.
    /// @param s The data set.
    /// @param periodEpochs Proving period length in epochs (P).
    /// @param windowEpochs Challenge window length in epochs (W).
    /// @return True when pieces may be added or removed now.
    function treeMayChange(DataSet storage s, uint256 periodEpochs, uint256 windowEpochs) internal view returns (bool) {
        uint256 period = currentPeriod(s, periodEpochs);
        return s.lastProvenPlusOne > period || block.number <= challengeEpoch(s, period, periodEpochs, windowEpochs);
    }

    /// @notice Pieces and leaves that challenges of `period` draw from: frozen when pieces joined
    /// after its challenge epoch.
    /// @param s The data set.
    /// @param period Period index.
    /// @return pieces Number of leading pieces of the sum tree draws fall in.
    /// @return leaves Their live leaves: draws are taken modulo this.
    function challengeRange(DataSet storage s, uint256 period) internal view returns (uint256 pieces, uint256 leaves) {
        if (s.snapshotPeriodPlusOne == period + 1) return (s.snapshotPieces, s.snapshotLeaves);
        return (s.pieceCount, s.liveLeaves);
    }

    /// @notice Appends a piece of `leaves` leaves for `dealId` to the set and its sum tree,
    /// first freezing the challenge range when the current period's challenge epoch has passed
    /// unproven.
    /// @param s The data set.
    /// @param tree The set's sum tree.
    /// @param dealId The deal the piece belongs to.
    /// @param leaves The piece's payload leaves (its weight; at most 2^31).
    /// @param periodEpochs Proving period length in epochs (P).
    /// @param windowEpochs Challenge window length in epochs (W).
    /// @return index The piece's index in the set (1-based).
    function appendPiece(
        DataSet storage s,
        mapping(uint256 => uint256) storage tree,
        uint256 dealId,
        uint256 leaves,
        uint256 periodEpochs,
        uint256 windowEpochs
    ) internal returns (uint256 index) {
        uint256 period = currentPeriod(s, periodEpochs);
        if (!treeMayChange(s, periodEpochs, windowEpochs) && s.snapshotPeriodPlusOne != period + 1) {
            s.snapshotPeriodPlusOne = SafeCast.toUint32(period + 1);
            s.snapshotPieces = s.pieceCount;
            s.snapshotLeaves = s.liveLeaves;
        }
        index = s.pieceCount + 1;
        uint256 sum = leaves;
        uint256 low = index - _lowbit(index);
        for (uint256 child = index - 1; child > low; child -= _lowbit(child)) {
            sum += tree[child] & WEIGHT_MASK;
        }
        tree[index] = (dealId << 64) | sum;
        s.pieceCount = SafeCast.toUint64(index);
        // leaves ≤ 2^31 (a piece of at most 2^36 bytes); the checked sum cannot wrap.
        s.liveLeaves += uint64(leaves);
        ++s.openPieces;
    }

    /// @notice Sets piece `index`'s weight to zero: it is never drawn again.
    /// @param s The data set.
    /// @param tree The set's sum tree.
    /// @param index The piece's index in the set (1-based).
    /// @param leaves The piece's weight, as given to `appendPiece`.
    function removePiece(
        DataSet storage s,
        mapping(uint256 => uint256) storage tree,
        uint256 index,
        uint256 leaves
    ) internal {
        uint256 count = s.pieceCount;
        for (uint256 i = index; i <= count; i += _lowbit(i)) {
            tree[i] -= leaves;
        }
        s.liveLeaves -= uint64(leaves); // leaves ≤ 2^31, as added by appendPiece
    }

    /// @notice The piece holding live leaf `leaf` (< the leaves of the first `pieces` pieces)
    /// and the leaf's offset inside that piece.
    /// @param tree The set's sum tree.
    /// @param pieces Number of leading pieces to search (`challengeRange`).
    /// @param leaf Live leaf index among those pieces' leaves.
    /// @return index Piece index (1-based).
    /// @return dealId The piece's deal.
    /// @return offset The leaf's offset inside the piece, in leaves.
    function findPiece(
        mapping(uint256 => uint256) storage tree,
        uint256 pieces,
        uint256 leaf
    ) internal view returns (uint256 index, uint256 dealId, uint256 offset) {
        uint256 step = 1;
        while (step <= pieces >> 1) step <<= 1;
        uint256 pos;
        for (; step != 0; step >>= 1) {
            uint256 next = pos + step;
            if (next <= pieces) {
                uint256 weight = tree[next] & WEIGHT_MASK;
                if (weight <= leaf) {
                    pos = next;
                    leaf -= weight;
                }
            }
        }
        index = pos + 1;
        dealId = tree[index] >> 64;
        offset = leaf;
    }

    function _lowbit(uint256 i) private pure returns (uint256) {
        return i & (~i + 1);
    }
}
