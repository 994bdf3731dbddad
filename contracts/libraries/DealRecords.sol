// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title DealRecords
/// @notice The one storage word a deal keeps besides its key, packed for a cheap publish.
/// @dev Layout (low to high bits): dataSetId (64) | addedPeriod (32) | pieceIndex (40) |
/// log2Leaves (6) | status (2) | endEpoch (64) | payloadLeaves (32). Limits that follow: 2^32
/// periods per data set, 2^40 pieces per data set.
library DealRecords {
    /// @notice Lifecycle recorded on chain; finer states are derived from the data set.
    enum Status {
        None,
        Open,
        ClosedExpired,
        ClosedTerminated
    }

    /// @notice A deal's record, unpacked.
    struct Record {
        uint64 dataSetId;
        uint32 addedPeriod;
        /// @dev Index of the deal's piece in its data set's sum tree (1-based).
        uint64 pieceIndex;
        uint8 log2Leaves;
        Status status;
        /// @dev The proposal's endEpoch, so views can tell an ended deal without its proposal.
        uint64 endEpoch;
        /// @dev Leaves holding client data, ⌈4 · payloadSize / 127⌉: the piece's weight in its
        /// data set's sum tree (at most 2^31 for a 2^36-byte piece).
        uint32 payloadLeaves;
    }

    /// @notice Packs `r`; the caller guarantees the field limits above.
    /// @param r The record.
    /// @return word The packed word (nonzero: status is at least Open).
    function pack(Record memory r) internal pure returns (uint256 word) {
        word =
            uint256(r.dataSetId) |
            (uint256(r.addedPeriod) << 64) |
            (uint256(r.pieceIndex) << 96) |
            (uint256(r.log2Leaves) << 136) |
            (uint256(r.status) << 142) |
            (uint256(r.endEpoch) << 144) |
            (uint256(r.payloadLeaves) << 208);
    }

    /// @notice Unpacks a stored word; each field is cast from exactly its own bits.
    /// @param word A word written by `pack` (or `withStatus`).
    /// @return r The record.
    function unpack(uint256 word) internal pure returns (Record memory r) {
        r.dataSetId = uint64(word);
        r.addedPeriod = uint32(word >> 64);
        r.pieceIndex = uint64((word >> 96) & 0xffffffffff);
        r.log2Leaves = uint8((word >> 136) & 0x3f);
        r.status = Status((word >> 142) & 3);
        r.endEpoch = uint64(word >> 144);
        r.payloadLeaves = uint32(word >> 208);
    }

    /// @notice `word` with its status replaced.
    /// @param word A packed record.
    /// @param status The new status.
    /// @return The packed record with only its status bits changed.
    function withStatus(uint256 word, Status status) internal pure returns (uint256) {
        return (word & ~(uint256(3) << 142)) | (uint256(status) << 142);
    }
}
