// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title DealRecords
/// @notice The one storage word a deal keeps besides its key, packed for a cheap publish.
/// @dev Layout (low to high bits): provider (160) | generation (24) | addedPeriod (24) |
/// startLeaf (40) | log2Leaves (6) | status (2). Limits that follow: 2^24 generations per
/// provider, 2^24 periods per generation, 2^40 leaves (32 TiB) per proof set.
library DealRecords {
    /// @notice Lifecycle recorded on chain; finer states are derived from the proof set.
    enum Status {
        None,
        Open,
        ClosedExpired,
        ClosedTerminated
    }

    /// @notice A deal's record, unpacked.
    struct Record {
        address provider;
        uint32 generation;
        uint32 addedPeriod;
        uint64 startLeaf;
        uint8 log2Leaves;
        Status status;
    }

    /// @dev Largest generation, period index and leaf offset that fit the packed word.
    uint256 internal constant MAX_GENERATION = (1 << 24) - 1;
    uint256 internal constant MAX_PERIOD = (1 << 24) - 1;
    uint256 internal constant MAX_LEAVES = 1 << 40;

    /// @notice Packs `r`; the caller guarantees the field limits above.
    function pack(Record memory r) internal pure returns (uint256 word) {
        word =
            uint256(uint160(r.provider)) |
            (uint256(r.generation) << 160) |
            (uint256(r.addedPeriod) << 184) |
            (uint256(r.startLeaf) << 208) |
            (uint256(r.log2Leaves) << 248) |
            (uint256(r.status) << 254);
    }

    /// @notice Unpacks a stored word.
    function unpack(uint256 word) internal pure returns (Record memory r) {
        r.provider = address(uint160(word));
        r.generation = uint32((word >> 160) & 0xffffff);
        r.addedPeriod = uint32((word >> 184) & 0xffffff);
        r.startLeaf = uint64((word >> 208) & 0xffffffffff);
        r.log2Leaves = uint8((word >> 248) & 0x3f);
        r.status = Status(word >> 254);
    }

    /// @notice `word` with its status replaced.
    function withStatus(uint256 word, Status status) internal pure returns (uint256) {
        return (word & ~(uint256(3) << 254)) | (uint256(status) << 254);
    }
}
