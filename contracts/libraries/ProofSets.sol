// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ProofSets
/// @notice A provider's proof set: the leaves of its open deals laid end to end, proven together
/// once per proving period (FilOz PDP's model), and the period arithmetic around it.
/// @dev One `ProofSet` exists per (provider, generation). A generation ends when its last open
/// deal closes (the set empties) or when it fails; the next publish starts a new one with a
/// fresh anchor, so period numbering and leaf offsets restart at zero.
library ProofSets {
    /// @notice Per-generation state; two storage words plus one written only on failure.
    struct ProofSet {
        /// @dev Epoch at which period 0 starts; 0 when the generation has not started.
        uint64 anchorEpoch;
        /// @dev Last proven period index + 1; 0 when none has been proven.
        uint32 lastProvenPlusOne;
        /// @dev Number of proven periods.
        uint32 provenPeriods;
        /// @dev Last period recorded by `reportFault`, + 1.
        uint32 lastReportedPlusOne;
        /// @dev Period (+ 1) for which `snapshotLeaves` froze the challenge range.
        uint32 snapshotPeriodPlusOne;
        /// @dev Leaf count at the challenge epoch of period `snapshotPeriodPlusOne - 1`.
        uint64 snapshotLeaves;
        /// @dev Leaves allocated so far, live or freed: challenges draw from [0, totalLeaves).
        uint64 totalLeaves;
        /// @dev Leaves of open deals.
        uint64 liveLeaves;
        /// @dev Whoever recorded the period that failed the set; earns the slashing bounty.
        address failureReporter;
    }

    /// @notice Index of the period containing the current block. The set must have started.
    function currentPeriod(ProofSet storage s, uint256 periodEpochs) internal view returns (uint256) {
        return (block.number - s.anchorEpoch) / periodEpochs;
    }

    /// @notice First epoch of period `period`.
    function periodStart(ProofSet storage s, uint256 period, uint256 periodEpochs) internal view returns (uint256) {
        return s.anchorEpoch + period * periodEpochs;
    }

    /// @notice The epoch whose block hash seeds period `period`'s challenges.
    function challengeEpoch(
        ProofSet storage s,
        uint256 period,
        uint256 periodEpochs,
        uint256 windowEpochs
    ) internal view returns (uint256) {
        return s.anchorEpoch + (period + 1) * periodEpochs - windowEpochs;
    }

    /// @notice Periods missed in a row before the current one (0 when the latest resolved period
    /// was proven or the set has not started).
    function consecutiveFaults(ProofSet storage s, uint256 periodEpochs) internal view returns (uint256) {
        if (s.anchorEpoch == 0) return 0;
        uint256 period = currentPeriod(s, periodEpochs);
        uint256 lastProvenPlusOne = s.lastProvenPlusOne;
        return period > lastProvenPlusOne ? period - lastProvenPlusOne : 0;
    }

    /// @notice Epoch at which the set fails if nothing more is proven: the end of the
    /// `maxFaults`-th missed period after the last proven one.
    function failureEpoch(ProofSet storage s, uint256 periodEpochs, uint256 maxFaults) internal view returns (uint256) {
        return s.anchorEpoch + (uint256(s.lastProvenPlusOne) + maxFaults) * periodEpochs;
    }

    /// @notice Whether the set has missed `maxFaults` periods in a row.
    function hasFailed(ProofSet storage s, uint256 periodEpochs, uint256 maxFaults) internal view returns (bool) {
        return s.anchorEpoch != 0 && block.number >= failureEpoch(s, periodEpochs, maxFaults);
    }

    /// @notice Leaf count challenges of period `period` draw from: frozen at the challenge epoch
    /// when pieces were appended after it.
    function challengeLeaves(ProofSet storage s, uint256 period) internal view returns (uint256) {
        return s.snapshotPeriodPlusOne == period + 1 ? s.snapshotLeaves : s.totalLeaves;
    }

    /// @notice Appends `leaves` leaves at the end of the set, first freezing the challenge range
    /// when the current period's challenge epoch has passed unproven.
    /// @return startLeaf Offset of the new range.
    function append(
        ProofSet storage s,
        uint256 leaves,
        uint256 periodEpochs,
        uint256 windowEpochs
    ) internal returns (uint64 startLeaf) {
        startLeaf = s.totalLeaves;
        uint256 period = currentPeriod(s, periodEpochs);
        if (
            block.number > challengeEpoch(s, period, periodEpochs, windowEpochs) &&
            s.lastProvenPlusOne <= period &&
            s.snapshotPeriodPlusOne != period + 1
        ) {
            s.snapshotPeriodPlusOne = uint32(period + 1);
            s.snapshotLeaves = startLeaf;
        }
        s.totalLeaves = uint64(startLeaf + leaves);
    }
}
