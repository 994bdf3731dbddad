// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ProvenPeriods
/// @notice Which proving periods of a proof set were proven, with O(1) "how many before period x".
/// @dev Word w covers periods [224·w, 224·w + 224): bits 0..223 flag proven periods and bits
/// 224..255 hold how many periods were proven before the word (written with the word's first
/// flag). Every word from 0 to the last proven period's word holds a flag as long as the gap
/// between consecutive proofs (and before the first) stays below 224 periods, which the market
/// guarantees by failing a set after `maxConsecutiveFaults` ≤ 200 missed periods.
library ProvenPeriods {
    /// @dev Periods flagged per storage word.
    uint256 internal constant PERIODS_PER_WORD = 224;

    /// @notice Flags `period` as proven.
    /// @param words The set's words, keyed by word index.
    /// @param period Period index within the generation.
    /// @param provenBefore Periods proven before `period` (all lie before it).
    function markProven(
        mapping(uint256 wordIndex => uint256) storage words,
        uint256 period,
        uint256 provenBefore
    ) internal {
        uint256 wordIndex = period / PERIODS_PER_WORD;
        uint256 word = words[wordIndex];
        if (word == 0) word = provenBefore << PERIODS_PER_WORD;
        words[wordIndex] = word | (1 << (period % PERIODS_PER_WORD));
    }

    /// @notice Whether `period` was proven.
    /// @param words The set's words, keyed by word index.
    /// @param period Period index.
    /// @return True when `markProven` flagged it.
    function isProven(
        mapping(uint256 wordIndex => uint256) storage words,
        uint256 period
    ) internal view returns (bool) {
        return (words[period / PERIODS_PER_WORD] >> (period % PERIODS_PER_WORD)) & 1 == 1;
    }

    /// @notice Number of proven periods strictly before `period`.
    /// @param words The set's words, keyed by word index.
    /// @param period Period index.
    /// @param lastProvenPlusOne Index of the last proven period + 1 (0 when none).
    /// @param provenTotal Number of proven periods so far.
    /// @return The count, in O(1): the word's stored prefix plus a popcount.
    function countBefore(
        mapping(uint256 wordIndex => uint256) storage words,
        uint256 period,
        uint256 lastProvenPlusOne,
        uint256 provenTotal
    ) internal view returns (uint256) {
        if (period >= lastProvenPlusOne) return provenTotal;
        uint256 word = words[period / PERIODS_PER_WORD];
        uint256 below = word & ((1 << (period % PERIODS_PER_WORD)) - 1);
        return (word >> PERIODS_PER_WORD) + _popcount(below);
    }

    /// @dev Population count of a word with at most 224 bits set (SWAR; the final multiply sums
    /// the 32 byte counts into the top byte, which cannot exceed 224).
    function _popcount(uint256 x) private pure returns (uint256) {
        // Every step works on disjoint bit fields whose sums fit their field; the last
        // multiplication intentionally wraps modulo 2^256.
        unchecked {
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x =
                (x & 0x3333333333333333333333333333333333333333333333333333333333333333) +
                ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            return (x * 0x0101010101010101010101010101010101010101010101010101010101010101) >> 248;
        }
    }
}
