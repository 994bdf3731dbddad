// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A client's offer to store one piece with one provider: Filecoin's `DealProposal`
/// (seed 001, "StorageDealProposal - a storage deal made and signed by the client").
/// @dev Signed by the client with EIP-712 (see `DealProposals.TYPEHASH`); ERC-1271 signers accepted.
struct StorageDealProposal {
    /// @dev Piece commitment: the CommP root (sha254 binary Merkle root over the fr32-padded
    /// piece, FRC-0069's digest without its size prefix).
    bytes32 pieceCid;
    /// @dev Padded piece size in bytes: a power of two in [128, 2^36] (`PieceSizes.MIN_PIECE_SIZE`,
    /// `PieceSizes.MAX_PIECE_SIZE`; 128 bytes = four 32-byte leaves).
    uint64 pieceSize;
    /// @dev Bytes of client data in the piece before fr32 padding (FRC-0069's payload: what a
    /// PieceCID v2 records as size less padding). The minimal padding holds it
    /// (`PieceSizes.minimalPayloadRange`): pieceSize/2 · 127/128 < payloadSize ≤ pieceSize · 127/128
    /// (any 1..127 for 128-byte pieces). Challenges fall only on the ⌈4 · payloadSize / 127⌉
    /// leaves that hold it (`PieceSizes.payloadLeaves`).
    uint64 payloadSize;
    address client;
    address provider;
    /// @dev Free text chosen by the client (e.g. the file's droot or a PieceCID string).
    string label;
    /// @dev First epoch (block number) the deal is paid for.
    uint64 startEpoch;
    /// @dev Epoch (block number) at which the deal ends, exclusive.
    uint64 endEpoch;
    /// @dev Token base units paid by the client for every proven epoch in [startEpoch, endEpoch).
    uint256 storagePricePerEpoch;
    /// @dev Token base units locked by the provider, slashed on faults.
    uint256 providerCollateral;
    /// @dev Token base units locked by the client, returned when the deal closes.
    uint256 clientCollateral;
    /// @dev Client-chosen nonce; each (client, nonce) pair can be published once.
    uint256 nonce;
}

/// @notice A proposal with the client's signature over its EIP-712 digest and, when someone other
/// than the provider publishes it, the provider's acceptance (seed 001's signed StorageDeal).
struct SignedStorageDealProposal {
    StorageDealProposal proposal;
    /// @dev 65-byte ECDSA signature, or whatever the client's ERC-1271 contract accepts.
    bytes clientSignature;
    /// @dev The provider's signature over EIP-712 `StorageDealAcceptance(StorageDealProposal
    /// proposal)` (`DealProposals.acceptanceHash`); empty when the provider itself publishes.
    bytes providerSignature;
}

/// @notice Why `publishStorageDeals` skipped a proposal (per-item result; `None` = published).
enum PublishResult {
    None,
    /// The sender is not the provider and the provider's acceptance signature does not hold.
    InvalidProviderSignature,
    /// The client's signature does not hold.
    InvalidSignature,
    NonceUsed,
    InvalidPieceSize,
    InvalidPieceCid,
    InvalidEpochs,
    StartEpochTooSoon,
    DurationTooLong,
    ClientBalanceTooLow,
    ProviderBalanceTooLow,
    AmountTooLarge,
    DataSetFull,
    /// `payloadSize` is 0, more than the piece holds, or fits a piece half the size.
    InvalidPayloadSize
}

/// @notice How a deal stands, computed lazily from its data set.
enum DealState {
    /// No deal with this id.
    None,
    /// Published, not yet covered by a proven period.
    Published,
    /// Covered by at least one proven period and the latest resolved period was proven.
    Active,
    /// The data set missed one or more periods in a row, fewer than `maxConsecutiveFaults`.
    Faulted,
    /// Terminated (declared, data set failed, or never activated); may still await settlement.
    Terminated,
    /// Ran to its end epoch (settled or not).
    Expired
}

/// @notice Why a deal closed.
enum CloseReason {
    Expired,
    FaultDeclared,
    DataSetFailed,
    NotActivated
}

/// @notice One answer to a challenge in `provePossession`.
/// @dev The contract finds the piece a draw landed in from the data set's sum tree. For a piece
/// of an open deal (or of a deal closed while this period's proof window was open): `leaf` is
/// the 32-byte fr32 node and `siblings` the sha254 path from the leaf up (length =
/// log2(pieceSize / 32)); the root it reaches and `termsHash` must open the deal's stored key
/// `keccak256(root ‖ termsHash)`, so the piece commitment itself is not sent. For a piece whose
/// deal has closed (its removal waits for the window to end): all fields empty; the draw does
/// not count and the next one is taken.
struct PieceProof {
    bytes32 termsHash;
    bytes32 leaf;
    bytes32[] siblings;
}

/// @notice Everything an agent needs to know about a deal without replaying events.
struct DealInfo {
    DealState state;
    /// @dev True once the deal is settled closed (its locks released); `state` alone cannot tell
    /// an ended deal awaiting settlement from a closed one.
    bool closed;
    address provider;
    address client;
    /// @dev The data set (provider, client) holding the deal's piece.
    uint64 dataSetId;
    uint32 addedPeriod;
    /// @dev The piece's index in its data set (1-based).
    uint64 pieceIndex;
    uint64 pieceSize;
    uint64 endEpoch;
    /// @dev Missed periods in a row of the deal's data set (lazily computed, 0 when healthy).
    uint32 consecutiveFaults;
    /// @dev Epoch up to which the deal has been paid (exclusive); 0 before the first settlement.
    uint64 settledUpToEpoch;
}

/// @notice A data set, as seen by agents.
struct DataSetInfo {
    address provider;
    address client;
    /// @dev Epoch at which period 0 started; 0 when no such data set exists.
    uint64 anchorEpoch;
    /// @dev Index of the period containing the current block.
    uint32 currentPeriod;
    /// @dev Epoch whose block hash seeds the current period's challenges.
    uint64 challengeEpoch;
    /// @dev Last epoch at which a proof for the current period is accepted.
    uint64 deadlineEpoch;
    /// @dev True once the current period has been proven.
    bool currentPeriodProven;
    uint32 provenPeriods;
    uint32 consecutiveFaults;
    bool failed;
    /// @dev True while it is its pair's current data set (new deals of the pair join it).
    bool current;
    /// @dev Pieces ever added.
    uint64 pieceCount;
    /// @dev Payload leaves (32-byte nodes holding client data, ⌈4 · payloadSize / 127⌉ per piece)
    /// of pieces in the sum tree; challenges draw from these.
    uint64 liveLeaves;
    /// @dev Closed deals whose pieces leave the tree once the open proof window ends.
    uint32 pendingRemovals;
}
