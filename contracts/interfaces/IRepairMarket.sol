// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IStorageMarket} from "./IStorageMarket.sol";
import {StorageDealProposal} from "../types/StorageDealTypes.sol";
import {
    CodingParams,
    RepairMiner,
    RepairAsk,
    Bid,
    BidState,
    RepairDeal,
    RepairDealState,
    PieceSlot
} from "../types/RepairTypes.sol";

/// @title IRepairMarket
/// @notice Seed 000's RepairMarket made complete: repair miners pledge tokens and post asks,
/// clients post funded bids for a file's data root (droot), a miner takes a bid with the client's
/// signature, places the file's k + m pieces with distinct storage providers through StorageMarket
/// deals it is the client of, reports and repairs lost pieces, and is paid for the epochs the file
/// was safe — or slashed when a loss stays unrepaired.
/// @dev Units: token base units of `token()`; epochs are block numbers; sizes are bytes. A
/// piece's droot leaf is `keccak256(abi.encode(uint256 index, bytes32 pieceCid, uint64 pieceSize))`
/// and proofs follow OpenZeppelin's `MerkleProof` (sorted pairs).
interface IRepairMarket {
    /// @notice Deployment parameters, fixed at construction.
    struct RepairParams {
        /// @dev Pledge a miner must hold per encoded byte under management, token base units.
        uint256 pledgePerByte;
        /// @dev Epochs after `addDeal` within which every piece must be assigned and confirmed.
        uint64 placementWindowEpochs;
        /// @dev Epochs a lost piece may stay unrepaired before the miner is slashed and stops
        /// earning.
        uint64 repairWindowEpochs;
        /// @dev Slash per unrepaired (or unplaced) piece, basis points of the deal's pledge share
        /// (size · pledgePerByte).
        uint16 lostPieceSlashBps;
        /// @dev Slash when the file is lost, basis points of the deal's pledge share.
        uint16 dataLossSlashBps;
        /// @dev Share of every slash paid to whoever triggered it, basis points; the rest goes to
        /// the client.
        uint16 slashBountyBps;
        /// @dev Paid to the first reporter of a piece's loss (once per piece per deal), basis
        /// points of the deal's pledge share, taken from the miner's pledge; nothing when the
        /// reporter is the miner's owner or worker. At most `lostPieceSlashBps`.
        uint16 lossReportBountyBps;
        /// @dev Longest deal a bid may ask for, epochs.
        uint64 maxDealDurationEpochs;
    }

    // ---------------------------------------------------------------- errors

    /// @notice A constructor parameter is out of range (`name` says which).
    error InvalidRepairParams(string name, uint256 value);
    /// @notice An amount of 0 where a positive one is needed.
    error ZeroAmount();
    /// @notice A price or amount that could overflow the contract's arithmetic.
    error AmountTooLarge(uint256 amount);
    /// @notice `withdraw` asked for more than `account` may withdraw.
    error InsufficientBalance(address account, uint256 available, uint256 required);
    /// @notice A miner endpoint of 0 or more than 256 bytes.
    error InvalidEndpoint(uint256 length);
    /// @notice No miner with this id.
    error MinerNotFound(uint256 minerId);
    /// @notice Only the miner's owner may do this.
    error NotMinerOwner(uint256 minerId, address caller);
    /// @notice `worker` already serves miner `minerId`: a worker serves one miner.
    error WorkerHasMiner(address worker, uint256 minerId);
    /// @notice The worker neither sent the call nor signed `RepairMinerConsent` for this owner.
    error InvalidWorkerConsent(address worker);
    /// @notice The repair deal reached its end epoch: it can only be completed now.
    error RepairDealEnded(uint256 dealId, uint64 endEpoch);
    /// @notice Only the miner's owner or worker may do this.
    error NotMinerOperator(uint256 minerId, address caller);
    /// @notice The miner's pledge cannot back `required` (pledge per byte × bytes under management).
    error InsufficientPledge(uint256 minerId, uint256 pledge, uint256 required);
    /// @notice No ask with this id.
    error AskNotFound(uint256 askId);
    /// @notice The ask was cancelled.
    error AskNotActive(uint256 askId);
    /// @notice The ask's expiry epoch has passed.
    error AskExpired(uint256 askId, uint64 expiryEpoch);
    /// @notice k or m is 0, k + m exceeds 64, pieceSize is not a power of two of at least 128
    /// bytes, the scheme is neither 0 (Reed–Solomon) nor 1 (Clay), Reed–Solomon has d ≠ 0, or
    /// Clay has d outside [k, k + m − 1].
    error InvalidCodingParams(uint8 k, uint8 m, uint64 pieceSize, uint8 scheme, uint8 d);
    /// @notice `size` is not (k + m) times one piece's payload bytes, or that payload does not
    /// need `pieceSize`: it must lie in ((pieceSize / 2) · 127/128, pieceSize · 127/128] per
    /// piece (`PieceSizes.minimalPayloadRange`, as in the storage market; `min` and `max` are the
    /// totals, multiples of k + m).
    error InvalidBidSize(uint64 size, uint256 min, uint256 max);
    /// @notice A duration of 0 or above `maxDealDurationEpochs`.
    error InvalidDuration(uint64 durationEpochs);
    /// @notice An expiry epoch that is not in the future.
    error InvalidExpiry(uint64 expiryEpoch);
    /// @notice No bid with this id.
    error BidNotFound(uint256 bidId);
    /// @notice The bid was taken, cancelled or released.
    error BidNotOpen(uint256 bidId, BidState state);
    /// @notice The bid's expiry epoch has passed: it can only be released.
    error BidExpired(uint256 bidId, uint64 expiryEpoch);
    /// @notice A bid can be released only after its expiry epoch.
    error BidNotExpired(uint256 bidId, uint64 expiryEpoch);
    /// @notice Only the bid's client may do this.
    error NotBidClient(uint256 bidId, address caller);
    /// @notice Only the repair deal's client may extend it.
    error NotDealClient(uint256 dealId, address caller);
    /// @notice An extension must come by `latestEpoch`: a repair window before the deal's end.
    error ExtensionTooLate(uint256 dealId, uint256 latestEpoch);
    /// @notice The ask's price is above the bid's, or its size limit below the bid's size.
    error AskDoesNotCoverBid(uint256 askId, uint256 bidId);
    /// @notice The client's authorization expired at `deadline`.
    error AuthorizationExpired(uint64 deadline, uint256 currentEpoch);
    /// @notice The signature is not the bid client's authorization of this bid, ask and miner.
    error InvalidClientSignature(uint256 bidId, address client);
    /// @notice No repair deal with this id.
    error DealNotFound(uint256 dealId);
    /// @notice The repair deal is completed or lost.
    error DealNotOpen(uint256 dealId, RepairDealState state);
    /// @notice Piece `index` is not below k + m (`pieces`).
    error PieceIndexOutOfRange(uint256 dealId, uint256 index, uint256 pieces);
    /// @notice The piece already has a storage deal: repair it with `reassignPiece` once lost.
    error PieceAlreadyAssigned(uint256 dealId, uint256 index);
    /// @notice The piece has no storage deal yet.
    error PieceNotAssigned(uint256 dealId, uint256 index);
    /// @notice The piece's loss was already reported.
    error PieceAlreadyLost(uint256 dealId, uint256 index);
    /// @notice Only a reported loss can be repaired.
    error PieceNotLost(uint256 dealId, uint256 index);
    /// @notice The proposal given is not the storage deal's (StorageMarket.isDealProposal).
    error StorageDealMismatch(uint256 storageDealId);
    /// @notice The storage deal already holds a piece of some repair deal.
    error StorageDealAlreadyUsed(uint256 storageDealId);
    /// @notice The storage deal's label is not `slotLabel(dealId, index)`: it was made for another
    /// repair deal, another piece or another RepairMarket.
    error StorageDealLabelMismatch(uint256 storageDealId, string expected);
    /// @notice The storage deal's client is not the miner's worker.
    error StorageClientNotWorker(uint256 storageDealId, address client, address worker);
    /// @notice The storage deal ends before the repair deal.
    error StorageDealTooShort(uint256 storageDealId, uint64 endEpoch, uint64 requiredEndEpoch);
    /// @notice The storage deal's pieceSize is not the file's.
    error PieceSizeMismatch(uint256 storageDealId, uint64 pieceSize, uint64 expected);
    /// @notice The storage deal's payloadSize is not the deal's size / (k + m): fewer payload
    /// bytes would leave the piece's tail unchallenged.
    error PayloadSizeMismatch(uint256 storageDealId, uint64 payloadSize, uint64 expected);
    /// @notice (index, pieceCid, pieceSize) is not a leaf of the deal's droot.
    error PieceNotInDroot(uint256 dealId, uint256 index, bytes32 pieceCid);
    /// @notice Another piece of this file already sits with `provider`.
    error ProviderAlreadyHoldsPiece(uint256 dealId, address provider);
    /// @notice The storage deal is neither faulted nor terminated.
    error StorageDealHealthy(uint256 storageDealId, uint8 state);
    /// @notice The storage deal is already terminated or expired: it cannot hold a piece.
    error StorageDealNotLive(uint256 storageDealId, uint8 state);
    /// @notice Nothing about this piece is slashable now.
    error NothingToSlash(uint256 dealId, uint256 index);
    /// @notice The piece's storage deal is confirmed and not lost: there is nothing to confirm.
    error PieceAlreadyConfirmed(uint256 dealId, uint256 index);
    /// @notice The piece's storage deal has not been proven since it was assigned (its state is
    /// not Active in StorageMarket).
    error StorageDealNotProven(uint256 storageDealId, uint8 state);

    // ---------------------------------------------------------------- events

    /// @notice A miner was created, owned by `owner`, served by `worker`, with `pledge` locked.
    /// @param minerId The new miner's id.
    /// @param owner The caller, who owns the miner.
    /// @param worker The key serving it.
    /// @param pledge Token base units of pledge that arrived.
    /// @param endpoint HTTP base URL of its repair daemon.
    event RepairMinerCreated(
        uint256 indexed minerId,
        address indexed owner,
        address indexed worker,
        uint256 pledge,
        string endpoint
    );
    /// @notice `amount` was added to the miner's pledge.
    /// @param minerId The miner.
    /// @param amount Token base units that arrived.
    event PledgeAdded(uint256 indexed minerId, uint256 amount);
    /// @notice `amount` of pledge above what the miner's power needs was returned to its owner.
    /// @param minerId The miner.
    /// @param amount Token base units sent to the owner.
    event PledgeWithdrawn(uint256 indexed minerId, uint256 amount);
    /// @notice The miner's HTTP endpoint changed.
    /// @param minerId The miner.
    /// @param endpoint The new HTTP base URL.
    event MinerEndpointUpdated(uint256 indexed minerId, string endpoint);
    /// @notice The miner offers repair-backed storage at `pricePerBytePerEpoch` for files of up to
    /// `maxSize` encoded payload bytes until `expiryEpoch`.
    /// @param askId The new ask's id.
    /// @param minerId The miner offering.
    /// @param pricePerBytePerEpoch Token base units per encoded payload byte per epoch.
    /// @param maxSize Largest encoded payload size accepted, bytes.
    /// @param expiryEpoch Last epoch the ask can be taken.
    event RepairAskAdded(
        uint256 indexed askId,
        uint256 indexed minerId,
        uint256 pricePerBytePerEpoch,
        uint64 maxSize,
        uint64 expiryEpoch
    );
    /// @notice The ask was withdrawn.
    /// @param askId The ask.
    event RepairAskCancelled(uint256 indexed askId);
    /// @notice A client locked `amount` (price · size · duration) for a repair deal on `droot`.
    /// @param bidId The new bid's id.
    /// @param client The caller, who pays.
    /// @param droot The file's data root.
    /// @param pricePerBytePerEpoch Token base units per encoded payload byte per epoch.
    /// @param size Encoded payload bytes paid for.
    /// @param durationEpochs Deal length in epochs.
    /// @param expiryEpoch Last epoch the bid can be taken.
    /// @param codingParams The file's erasure coding (k, m, pieceSize, scheme, d).
    /// @param amount Token base units that arrived and are locked in the bid.
    event BidAdded(
        uint256 indexed bidId,
        address indexed client,
        bytes32 indexed droot,
        uint256 pricePerBytePerEpoch,
        uint64 size,
        uint64 durationEpochs,
        uint64 expiryEpoch,
        CodingParams codingParams,
        uint256 amount
    );
    /// @notice The client cancelled an open bid; `refund` became withdrawable.
    /// @param bidId The bid.
    /// @param refund Token base units credited to the client's withdrawable balance.
    event BidCancelled(uint256 indexed bidId, uint256 refund);
    /// @notice An expired bid was released; `refund` became the client's to withdraw.
    /// @param bidId The bid.
    /// @param refund Token base units credited to the client's withdrawable balance.
    event BidReleased(uint256 indexed bidId, uint256 refund);
    /// @notice A miner took a bid with an ask: the deal runs until `endEpoch`; every piece must be
    /// confirmed by `placementDeadline`.
    /// @param dealId The new repair deal's id.
    /// @param bidId The bid taken.
    /// @param minerId The miner taking it.
    /// @param askId The miner's ask it was taken with.
    /// @param client The bid's client.
    /// @param droot The file's data root.
    /// @param endEpoch Epoch at which the deal ends (now + the bid's duration).
    /// @param placementDeadline Epoch by which every piece must be confirmed.
    event RepairDealCreated(
        uint256 indexed dealId,
        uint256 indexed bidId,
        uint256 indexed minerId,
        uint256 askId,
        address client,
        bytes32 droot,
        uint64 endEpoch,
        uint64 placementDeadline
    );
    /// @notice Piece `index` was placed under storage deal `storageDealId` (pending until confirmed).
    /// @param dealId The repair deal.
    /// @param index The piece's index in the file (0-based).
    /// @param storageDealId The StorageMarket deal holding it.
    /// @param provider That deal's provider.
    event PieceAssigned(uint256 indexed dealId, uint256 index, uint256 indexed storageDealId, address indexed provider);
    /// @notice The client extended the deal to `newEndEpoch` and locked `amount` more for the
    /// extra epochs, at the deal's own price.
    /// @param dealId The repair deal.
    /// @param askId The miner's ask that covered the extension.
    /// @param oldEndEpoch Epoch the deal ended before.
    /// @param newEndEpoch Epoch it ends now.
    /// @param amount Token base units locked for the extra epochs (as received).
    event RepairDealExtended(
        uint256 indexed dealId,
        uint256 indexed askId,
        uint64 oldEndEpoch,
        uint64 newEndEpoch,
        uint256 amount
    );
    /// @notice Every piece is confirmed: the deal starts earning.
    /// @param dealId The repair deal.
    event RepairDealActivated(uint256 indexed dealId);
    /// @notice Piece `index`'s storage deal was faulted or terminated and `reporter` reported it:
    /// the repair window runs from now.
    /// @param dealId The repair deal.
    /// @param index The piece's index.
    /// @param storageDealId The StorageMarket deal that failed it.
    /// @param provider That deal's provider.
    /// @param reporter The caller.
    event PieceLost(
        uint256 indexed dealId,
        uint256 index,
        uint256 indexed storageDealId,
        address indexed provider,
        address reporter
    );
    /// @notice A lost piece now lives under `newStorageDealId` (it stays lost until confirmed).
    /// @param dealId The repair deal.
    /// @param index The piece's index.
    /// @param oldStorageDealId The storage deal it was lost under.
    /// @param newStorageDealId The storage deal it is placed under now.
    /// @param newProvider That deal's provider.
    event PieceRepaired(
        uint256 indexed dealId,
        uint256 index,
        uint256 oldStorageDealId,
        uint256 indexed newStorageDealId,
        address indexed newProvider
    );
    /// @notice Piece `index`'s storage deal was proven since it was assigned: the placement or
    /// repair counts from now. `lostAtEpoch` is the loss this ends (0 for a first placement).
    /// @param dealId The repair deal.
    /// @param index The piece's index.
    /// @param storageDealId The storage deal confirmed.
    /// @param provider That deal's provider.
    /// @param lostAtEpoch Epoch of the loss this confirmation ends; 0 for a first placement.
    event PieceConfirmed(
        uint256 indexed dealId,
        uint256 index,
        uint256 indexed storageDealId,
        address indexed provider,
        uint64 lostAtEpoch
    );
    /// @notice The first reporter of the piece's loss was paid `amount` from the pledge.
    /// @param dealId The repair deal.
    /// @param index The piece's index.
    /// @param reporter The first reporter of the loss.
    /// @param amount Token base units credited to the reporter.
    event LossReportBountyPaid(uint256 indexed dealId, uint256 index, address indexed reporter, uint256 amount);
    /// @notice The miner lost `amount` of pledge for piece `index`: `toClient` to the client, `bounty` to `caller`.
    /// @param dealId The repair deal.
    /// @param index The piece's index.
    /// @param minerId The miner slashed.
    /// @param amount Token base units taken from the pledge.
    /// @param toClient Token base units of it credited to the client.
    /// @param bounty Token base units of it credited to the caller.
    /// @param caller The account that triggered the slash.
    event RepairMinerSlashed(
        uint256 indexed dealId,
        uint256 index,
        uint256 indexed minerId,
        uint256 amount,
        uint256 toClient,
        uint256 bounty,
        address indexed caller
    );
    /// @notice More than m pieces were lost at once: the client got `clientRefund` and the miner was slashed `slashed`.
    /// @param dealId The repair deal.
    /// @param minerId Its miner.
    /// @param clientRefund Token base units of unearned payment credited back to the client.
    /// @param slashed Token base units taken from the miner's pledge.
    event FileLost(uint256 indexed dealId, uint256 indexed minerId, uint256 clientRefund, uint256 slashed);
    /// @notice The miner's owner was credited `amount` earned on the deal.
    /// @param dealId The repair deal.
    /// @param minerId Its miner.
    /// @param amount Token base units credited to the miner's owner.
    event EarningsClaimed(uint256 indexed dealId, uint256 indexed minerId, uint256 amount);
    /// @notice The deal ran its term: the miner earned `earned` in total, the client got `clientRefund` back.
    /// @param dealId The repair deal.
    /// @param earned Token base units the miner earned over the deal.
    /// @param clientRefund Token base units credited back to the client: what the miner did not earn.
    event RepairDealCompleted(uint256 indexed dealId, uint256 earned, uint256 clientRefund);
    /// @notice `account` withdrew `amount` to its wallet.
    /// @param account The account paid.
    /// @param amount Token base units sent.
    event Withdrawn(address indexed account, uint256 amount);

    // ---------------------------------------------------------------- miners

    /// @notice Creates a repair miner owned by the caller, pulling `pledge` tokens. The worker
    /// consents: it is the caller, or `workerSignature` is its EIP-712 signature of
    /// `RepairMinerConsent(address owner,address worker)` (ERC-1271 accepted). A worker serves at
    /// most one miner, so nobody can create a miner around someone else's worker and race its
    /// placements.
    /// @param worker Key that signs deals and is the storage client of the miner's pieces.
    /// @param pledge Token base units locked (may be 0 and topped up with `addPledge`).
    /// @param endpoint HTTP base URL of the repair daemon, 1..256 bytes.
    /// @param workerSignature Empty when the worker is the caller.
    /// @return minerId New miner's id (from 1).
    /// @custom:throws InvalidEndpoint, WorkerHasMiner, InvalidWorkerConsent; token errors bubble up.
    function createRepairMiner(
        address worker,
        uint256 pledge,
        string calldata endpoint,
        bytes calldata workerSignature
    ) external returns (uint256 minerId);

    /// @notice Adds pledge to a miner (anyone may add), pulling `amount` tokens from the caller.
    /// @param minerId An existing miner.
    /// @param amount Token base units, > 0; the pledge gains what arrived.
    /// @custom:throws MinerNotFound, ZeroAmount; token errors bubble up.
    function addPledge(uint256 minerId, uint256 amount) external;

    /// @notice The owner takes back pledge not needed to back the miner's power
    /// (powerBytes · pledgePerByte stays).
    /// @param minerId A miner of the caller.
    /// @param amount Token base units, > 0.
    /// @custom:throws NotMinerOwner, ZeroAmount, InsufficientPledge.
    function withdrawPledge(uint256 minerId, uint256 amount) external;

    /// @notice The owner changes the daemon's endpoint.
    /// @param minerId A miner of the caller.
    /// @param endpoint HTTP base URL, 1..256 bytes.
    function setMinerEndpoint(uint256 minerId, string calldata endpoint) external;

    // ---------------------------------------------------------------- orders

    /// @notice Posts an ask for the miner (owner or worker).
    /// @param minerId A miner the caller owns or serves.
    /// @param pricePerBytePerEpoch Token base units per encoded payload byte per epoch.
    /// @param maxSize Largest encoded payload size accepted, bytes.
    /// @param expiryEpoch Last epoch the ask can be taken, > now.
    /// @return askId New ask's id (from 1).
    function addRepairAsk(
        uint256 minerId,
        uint256 pricePerBytePerEpoch,
        uint64 maxSize,
        uint64 expiryEpoch
    ) external returns (uint256 askId);

    /// @notice Withdraws an ask (owner or worker).
    /// @param askId An active ask of a miner the caller owns or serves.
    function cancelRepairAsk(uint256 askId) external;

    /// @notice Posts a bid, pulling `pricePerBytePerEpoch · size · durationEpochs` tokens from
    /// the caller (the client).
    /// @param droot The file's data root.
    /// @param pricePerBytePerEpoch Token base units per encoded payload byte per epoch, < 2^120.
    /// @param size Encoded payload bytes: (k + m) times one piece's payload (its bytes before
    /// fr32 padding), which must need `pieceSize` (more than half its fr32 capacity, at most all
    /// of it). The client pays for these bytes, not for the padding to a power of two.
    /// @param durationEpochs Deal length, 1..maxDealDurationEpochs.
    /// @param expiryEpoch Last epoch the bid can be taken, > now.
    /// @param codingParams The file's erasure coding: k data and m parity pieces (1 ≤ k, 1 ≤ m,
    /// k + m ≤ 64), each of `pieceSize` padded bytes (a power of two ≥ 128); `scheme` 0
    /// (Reed–Solomon, d = 0) or 1 (Clay, k ≤ d ≤ k + m − 1).
    /// @return bidId New bid's id (from 1).
    function addBid(
        bytes32 droot,
        uint256 pricePerBytePerEpoch,
        uint64 size,
        uint64 durationEpochs,
        uint64 expiryEpoch,
        CodingParams calldata codingParams
    ) external returns (uint256 bidId);

    /// @notice The client cancels an open bid; its funds become withdrawable.
    /// @param bidId An open bid of the caller.
    function cancelBid(uint256 bidId) external;

    /// @notice Anyone releases an open bid past its expiry; its funds return to the client's
    /// withdrawable balance.
    /// @param bidId An open bid whose expiry epoch has passed.
    function releaseExpiredBid(uint256 bidId) external;

    /// @notice The miner (owner or worker) takes a bid with an ask. The client's EIP-712
    /// signature over `RepairDealAuthorization(bidId, askId, minerId, deadline)` binds the bid to
    /// this miner and ask, so no one can front-run the deal onto another miner (seed 000's
    /// "double spend" TODO).
    /// @param askId An active, unexpired ask of a miner the caller owns or serves, covering the
    /// bid's price and size.
    /// @param bidId An open, unexpired bid.
    /// @param deadline Last epoch the authorization is valid.
    /// @param clientSignature The bid client's signature (ECDSA or ERC-1271).
    /// @return dealId New repair deal's id (from 1), in the Placing state.
    function addDeal(
        uint256 askId,
        uint256 bidId,
        uint64 deadline,
        bytes calldata clientSignature
    ) external returns (uint256 dealId);

    /// @notice The client keeps the file for `extraEpochs` more (issue 17 "renewal"): the deal's
    /// end moves out and the client pays bid price · size · extraEpochs token base units, pulled
    /// now and earned like the rest of the term. The miner consents through an ask of its own that
    /// is active, unexpired and covers the deal's price and size (withdrawing its asks refuses
    /// extensions). The miner must then extend (or re-place) every piece's storage deal: a storage
    /// deal that expires before the repair deal's new end is a reportable loss.
    /// Reverts `ExtensionTooLate` (later than `repairWindowEpochs` before the end: the miner needs
    /// that long to carry the extension to the storage deals), `NotDealClient`, `DealNotOpen`,
    /// `AskNotActive` (also for an ask that does not exist), `AskExpired`, `AskDoesNotCoverBid` (an
    /// ask of another miner, or too dear or too small), `InvalidDuration` (0, or a whole term past
    /// `maxDealDurationEpochs`).
    /// @param dealId A Placing or Active repair deal of the caller.
    /// @param askId An ask of the deal's miner.
    /// @param extraEpochs Epochs added to the deal's end.
    function extendRepairDeal(uint256 dealId, uint256 askId, uint64 extraEpochs) external;

    // ---------------------------------------------------------------- pieces

    /// @notice Records that piece `index` of the deal is stored under StorageMarket deal
    /// `storageDealId`. Checks: the proposal is that deal's; its label is
    /// `slotLabel(dealId, index)`; its client is the miner's worker; it lasts until the repair
    /// deal ends; its pieceSize is the file's; (index, pieceCid,
    /// pieceSize) is a leaf of droot; no other piece of the file sits with its provider.
    /// The placement is pending until `confirmPiece`: the deal turns Active (and starts earning)
    /// once every piece is confirmed.
    /// @param dealId A Placing or Active repair deal of a miner the caller owns or serves.
    /// @param index An unassigned piece index, < k + m.
    /// @param storageDealId The StorageMarket deal holding the piece.
    /// @param storageProposal That deal's proposal.
    /// @param proof OpenZeppelin Merkle proof of the leaf in droot.
    function assignPiece(
        uint256 dealId,
        uint256 index,
        uint256 storageDealId,
        StorageDealProposal calldata storageProposal,
        bytes32[] calldata proof
    ) external;

    /// @notice Anyone reports piece `index` lost when its storage deal is faulted, terminated or
    /// expired (an extension the miner did not carry to the piece) in StorageMarket, before the
    /// repair deal's end epoch (reverts `RepairDealEnded` after).
    /// The first report of a loss of the piece earns `lossReportBountyBps` of the deal's pledge
    /// share from the miner's pledge (none to the miner's own owner or worker).
    /// More than m lost pieces at once lose the file: the client is refunded what was not earned
    /// and the miner slashed `dataLossSlashBps`.
    /// @param dealId A Placing or Active repair deal.
    /// @param index An assigned piece that is not already lost.
    function reportPieceLoss(uint256 dealId, uint256 index) external;

    /// @notice The repair: a lost piece now lives under a new storage deal (same checks as
    /// `assignPiece`). The piece stays lost, and its repair window keeps running from the loss,
    /// until `confirmPiece` confirms the new deal; a lost piece may be reassigned again meanwhile.
    /// @param dealId An open repair deal of a miner the caller owns or serves.
    /// @param index A lost piece.
    /// @param newStorageDealId The StorageMarket deal now holding the piece.
    /// @param storageProposal That deal's proposal.
    /// @param proof OpenZeppelin Merkle proof of the piece's leaf in droot.
    function reassignPiece(
        uint256 dealId,
        uint256 index,
        uint256 newStorageDealId,
        StorageDealProposal calldata storageProposal,
        bytes32[] calldata proof
    ) external;

    /// @notice Anyone confirms piece `index` once its storage deal is Active in StorageMarket
    /// (proven since it was added, and the latest resolved period proven). Confirms a first
    /// placement, a repair, or a transient fault: a lost piece whose own storage deal proves
    /// again returns to placed without a new deal. Before the deal's end epoch only.
    /// @dev Reverts `PieceNotAssigned`, `PieceAlreadyConfirmed`, `StorageDealNotProven`,
    /// `RepairDealEnded`. Decision 25 (docs/decisions.md).
    /// @param dealId An open repair deal.
    /// @param index An assigned piece that is unconfirmed or lost.
    function confirmPiece(uint256 dealId, uint256 index) external;

    /// @notice Anyone slashes the miner for a piece lost longer than the repair window (a repair
    /// not yet confirmed does not stop the clock), or not confirmed by the placement deadline;
    /// once per loss (confirming the piece makes its next loss slashable again). Not from the
    /// deal's end epoch on.
    /// @param dealId An open repair deal.
    /// @param index The piece lost too long, or not confirmed in time.
    function slashRepairMiner(uint256 dealId, uint256 index) external;

    /// @notice Pays the miners of these deals what they earned since their last claim, and
    /// completes deals that have ended (refunding what the client did not pay for). O(1) per deal.
    /// @param dealIds Repair deals, any miners.
    /// @return amounts Token base units credited to each deal's miner owner.
    function claimEarnings(uint256[] calldata dealIds) external returns (uint256[] memory amounts);

    /// @notice Sends `amount` of the caller's withdrawable balance (refunds, earnings, slashes).
    /// @param amount Token base units, > 0, at most `balanceOf(caller)`.
    /// @custom:throws ZeroAmount, InsufficientBalance; token errors bubble up.
    function withdraw(uint256 amount) external;

    // ---------------------------------------------------------------- views

    /// @notice The ERC-20 every amount is paid in (the storage market's).
    /// @return The token.
    function token() external view returns (IERC20);
    /// @notice The StorageMarket holding the miners' storage deals.
    /// @return The market.
    function storageMarket() external view returns (IStorageMarket);
    /// @notice The deployment parameters.
    /// @return The parameters given at construction.
    function repairParams() external view returns (RepairParams memory);
    /// @notice A repair miner.
    /// @param minerId Any id.
    /// @return The miner (all zero when it does not exist).
    function getMiner(uint256 minerId) external view returns (RepairMiner memory);
    /// @notice A repair ask.
    /// @param askId Any id.
    /// @return The ask (all zero when it does not exist).
    function getAsk(uint256 askId) external view returns (RepairAsk memory);
    /// @notice A bid.
    /// @param bidId Any id.
    /// @return The bid (all zero when it does not exist).
    function getBid(uint256 bidId) external view returns (Bid memory);
    /// @notice A repair deal.
    /// @param dealId Any id.
    /// @return The deal (all zero when it does not exist).
    function getDeal(uint256 dealId) external view returns (RepairDeal memory);
    /// @notice Where piece `index` of a repair deal is stored and whether it is lost.
    /// @param dealId Any id.
    /// @param index Piece index (0-based).
    /// @return The slot (all zero when unassigned).
    function pieceSlot(uint256 dealId, uint256 index) external view returns (PieceSlot memory);
    /// @notice Bit i set when piece i of the deal is lost.
    /// @param dealId Any id.
    /// @return bitmap The lost pieces, bit i for piece i.
    function lostPieces(uint256 dealId) external view returns (uint256 bitmap);
    /// @notice Token base units `account` can withdraw.
    /// @param account Any account.
    /// @return Its withdrawable balance.
    function balanceOf(address account) external view returns (uint256);
    /// @notice Token base units the miner could earn if claimed now.
    /// @param dealId Any id.
    /// @return What `claimEarnings` would credit now (0 unless the deal is Placing or Active).
    function claimableEarnings(uint256 dealId) external view returns (uint256);
    /// @notice The miner `worker` serves, 0 when none.
    /// @param worker Any account.
    /// @return The miner id.
    function minerOfWorker(address worker) external view returns (uint256);
    /// @notice Miner `minerId`'s newest ask (asks are not reused: an agent reads this rather than
    /// scanning `RepairAskAdded` logs, which real endpoints keep for a bounded window only).
    /// @param minerId Any id.
    /// @return The id of the ask the miner added last, 0 when none (check it with `getAsk`:
    /// it may since have been cancelled or expired).
    function latestAskOf(uint256 minerId) external view returns (uint256);
    /// @notice The repair deals made for bids on `droot`, oldest first, one page at a time: how a
    /// reader finds a file's holders, or a client its deal, without old logs.
    /// @param droot Any data root.
    /// @param offset Index of the first deal returned (0 = the oldest).
    /// @param limit Most deals returned.
    /// @return total Deals ever made for `droot`.
    /// @return dealIds `dealIds[offset … min(offset + limit, total) − 1]` (empty past the end).
    function dealsOfDroot(
        bytes32 droot,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256 total, uint256[] memory dealIds);
    /// @notice The repair deals miner `minerId` made, oldest first, one page at a time: how a
    /// miner that lost its local state finds its deals without old logs.
    /// @param minerId Any id.
    /// @param offset Index of the first deal returned (0 = the oldest).
    /// @param limit Most deals returned.
    /// @return total Deals the miner ever made.
    /// @return dealIds `dealIds[offset … min(offset + limit, total) − 1]` (empty past the end).
    function dealsOfMiner(
        uint256 minerId,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256 total, uint256[] memory dealIds);
    /// @notice How many of each record exist; ids run from 1 to these counts.
    /// @return miners Repair miners created.
    /// @return asks Repair asks added.
    /// @return bids Bids added.
    /// @return deals Repair deals made.
    function counts() external view returns (uint256 miners, uint256 asks, uint256 bids, uint256 deals);
    /// @notice EIP-712 digest a worker signs to consent to serving a miner owned by `owner`.
    /// @param owner The miner's future owner (the `createRepairMiner` caller).
    /// @param worker The worker.
    /// @return The digest of `RepairMinerConsent(owner, worker)` in this contract's domain.
    function hashWorkerConsent(address owner, address worker) external view returns (bytes32);
    /// @notice EIP-712 digest a client signs to authorize `addDeal`.
    /// @param bidId The client's bid.
    /// @param askId The ask it may be taken with.
    /// @param minerId The miner that may take it.
    /// @param deadline Last epoch the authorization is valid.
    /// @return The digest of `RepairDealAuthorization(bidId, askId, minerId, deadline)`.
    function hashDealAuthorization(
        uint256 bidId,
        uint256 askId,
        uint256 minerId,
        uint64 deadline
    ) external view returns (bytes32);
    /// @notice The label a storage deal for piece `index` of repair deal `dealId` must carry:
    /// `repair-slot:<this contract, 0x + 40 lowercase hex>:<dealId, decimal>:<index, decimal>`,
    /// e.g. `repair-slot:0x5fbdb2315678afecb367f032d93f642f64180aa3:7:2`. The worker signs it into
    /// the StorageDealProposal, so a storage deal placed for one slot can never be claimed by
    /// another repair deal, piece or RepairMarket (defence in depth behind the worker check).
    /// @param dealId Any id.
    /// @param index Piece index.
    /// @return The label.
    function slotLabel(uint256 dealId, uint256 index) external view returns (string memory);
    /// @notice The droot leaf of piece `index`: keccak256(abi.encode(index, pieceCid, pieceSize)).
    /// @param index Piece index (0-based).
    /// @param pieceCid The piece's commitment.
    /// @param pieceSize The piece's padded size in bytes.
    /// @return The leaf `assignPiece` proves against droot.
    function pieceLeaf(uint256 index, bytes32 pieceCid, uint64 pieceSize) external pure returns (bytes32);
}
