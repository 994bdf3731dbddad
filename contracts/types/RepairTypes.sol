// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Erasure-coding parameters of a file (seed 000 `CodingParams`): k data and m parity
/// pieces, every piece `pieceSize` padded bytes, coded with Reed–Solomon or a Clay code.
struct CodingParams {
    /// @dev Data pieces; any k of the k + m pieces rebuild the file. 1 ≤ k, k + m ≤ 64.
    uint8 k;
    /// @dev Parity pieces; the file survives the loss of any m. m ≥ 1.
    uint8 m;
    /// @dev Padded piece size in bytes (a power of two ≥ 128, `PieceSizes.isPieceSize`), the same
    /// for every piece.
    uint64 pieceSize;
    /// @dev The erasure code: 0 = Reed–Solomon, 1 = Clay (coupled-layer MSR: any k pieces rebuild
    /// the file, one lost piece can be rebuilt from d helpers' sub-chunks).
    uint8 scheme;
    /// @dev Helpers of a single-piece Clay repair, k ≤ d ≤ k + m − 1; 0 for Reed–Solomon.
    uint8 d;
}

/// @notice A repair miner (seed 000 `CreateRepairMiner`).
struct RepairMiner {
    /// @dev Account that created the miner; receives earnings and controls the pledge.
    address owner;
    /// @dev Key that signs with clients and acts as the storage client of the miner's pieces.
    address worker;
    /// @dev Token base units locked as pledge.
    uint256 pledge;
    /// @dev Encoded bytes under management ("power"): Σ size of the miner's open repair deals.
    uint256 powerBytes;
    /// @dev HTTP base URL of the repair daemon.
    string endpoint;
}

/// @notice A repair miner's offer (seed 000 `AddRepairAsk`).
struct RepairAsk {
    uint256 minerId;
    /// @dev Token base units per encoded byte per epoch.
    uint256 pricePerBytePerEpoch;
    /// @dev Largest encoded size accepted, bytes.
    uint64 maxSize;
    /// @dev Last epoch (block number) at which the ask can be taken.
    uint64 expiryEpoch;
    bool active;
}

/// @notice Lifecycle of a bid.
enum BidState {
    None,
    Open,
    Taken,
    Cancelled,
    Released
}

/// @notice A client's order (seed 000 `AddBid`), funds locked at creation.
struct Bid {
    address client;
    /// @dev Data root: Merkle root over the n leaves keccak256(abi.encode(index, pieceCid, pieceSize)).
    bytes32 droot;
    /// @dev Token base units per encoded byte per epoch.
    uint256 pricePerBytePerEpoch;
    /// @dev Encoded payload bytes: (k + m) · each piece's payloadSize (decisions 28).
    uint64 size;
    /// @dev Deal length once taken, epochs.
    uint64 durationEpochs;
    /// @dev Last epoch (block number) at which the bid can be taken.
    uint64 expiryEpoch;
    CodingParams codingParams;
    /// @dev Token base units locked: price · size · duration.
    uint256 amount;
    BidState state;
}

/// @notice Lifecycle of a repair deal.
enum RepairDealState {
    None,
    /// Pieces are being placed with storage providers.
    Placing,
    /// Every piece has been assigned and its storage deal proven (confirmed) once.
    Active,
    /// Ran to its end; earnings and refunds settled.
    Completed,
    /// More than m pieces were lost at once: the file is gone.
    Lost
}

/// @notice A repair deal between a client and a repair miner.
struct RepairDeal {
    uint256 bidId;
    uint256 minerId;
    bytes32 droot;
    /// @dev Bit i set when piece i is lost.
    uint256 lostBitmap;
    /// @dev Token base units the client locked (the bid's amount).
    uint256 amount;
    /// @dev Token base units already paid to the miner.
    uint256 claimed;
    address client;
    RepairDealState state;
    /// @dev Pieces assigned at least once.
    uint16 assigned;
    /// @dev Pieces whose current storage deal has been proven since it was assigned.
    uint16 confirmed;
    /// @dev Pieces currently lost: reported, and not yet confirmed again (a repair onto a new
    /// storage deal stays lost until that deal is proven).
    uint16 lost;
    /// @dev Encoded payload bytes: (k + m) · each piece's payloadSize (decisions 28).
    uint64 size;
    /// @dev Epoch the deal was made.
    uint64 startEpoch;
    /// @dev Epoch the deal ends (exclusive): startEpoch + duration.
    uint64 endEpoch;
    /// @dev Every piece must be assigned by this epoch or the miner can be slashed per piece.
    uint64 placementDeadline;
    /// @dev Epoch up to which earnings have been accrued.
    uint64 accruedUpTo;
    /// @dev Epochs earned so far: fully placed, or within the repair window of every loss.
    uint64 paidEpochs;
    /// @dev Earliest loss epoch among the currently lost pieces (0 when none).
    uint64 oldestLossEpoch;
    CodingParams codingParams;
}

/// @notice Where piece `index` of a repair deal is stored.
struct PieceSlot {
    /// @dev StorageMarket deal holding the piece; 0 before assignment.
    uint256 storageDealId;
    address provider;
    /// @dev Epoch the loss was reported; 0 while healthy. Stays set through a repair until the
    /// repair is confirmed, so the repair window runs from the loss, not from the repair.
    uint64 lostAtEpoch;
    /// @dev Whether the current loss (or missed placement) was already slashed.
    bool slashed;
    /// @dev Whether `storageDealId` has been proven since it was assigned here (`confirmPiece`).
    bool confirmed;
    /// @dev Whether a loss of this piece has already earned a reporter its bounty: one bounty per
    /// piece per repair deal, however often it faults, recovers or moves.
    bool lossBountyPaid;
}
