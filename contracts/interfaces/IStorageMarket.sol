// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {
    StorageDealProposal,
    SignedStorageDealProposal,
    PieceProof,
    PublishResult,
    CloseReason,
    DealInfo,
    ProofSetInfo
} from "../types/StorageDealTypes.sol";

/// @title IStorageMarket
/// @notice The seed's StorageMarketActor (seed 001) on an EVM chain: escrow with free and locked
/// balances, client-signed storage deals published by providers in batches, PDP-style proofs of
/// possession every proving period, faults, slashing and pulled payments.
/// @dev Units: amounts are ERC-20 base units of `token()`; epochs are block numbers; sizes are
/// bytes unless named "leaves" (one leaf = one 32-byte fr32 node). Periods are numbered from 0
/// within a provider's proof-set generation; period k spans
/// [anchorEpoch + k·P, anchorEpoch + (k+1)·P); its challenge epoch is `anchorEpoch + (k+1)·P - W`
/// and its proof is accepted in the W epochs after the challenge epoch, up to and including the
/// period's last epoch. P = provingPeriodEpochs, W = challengeWindowEpochs.
interface IStorageMarket {
    /// @notice Deployment parameters; all fixed at construction.
    struct MarketParams {
        /// @dev Length of a proving period in epochs (P). Default 60.
        uint64 provingPeriodEpochs;
        /// @dev Epochs at the end of each period in which the proof is accepted (W), 1 ≤ W < P,
        /// W ≤ 240 so the challenge block hash is still readable. Default 20.
        uint64 challengeWindowEpochs;
        /// @dev Leaves challenged per period (c), 1..16. Default 5.
        uint8 challengesPerProof;
        /// @dev Missed periods in a row after which a provider's proof set fails and all its
        /// unexpired deals are terminated and slashed, 1..200. Default 3.
        uint8 maxConsecutiveFaults;
        /// @dev Share of the provider collateral paid to the client when the provider declares
        /// a fault, in basis points. Default 500 (5 %).
        uint16 declaredFaultPenaltyBps;
        /// @dev Share of a slashed provider collateral paid to whoever reported the failing
        /// period, in basis points; the rest goes to the client. Default 1000 (10 %).
        uint16 reporterBountyBps;
        /// @dev Bounty in token base units paid from the provider's free balance (capped at what
        /// is there) to whoever records a missed period with `reportFault`.
        uint128 faultReportBounty;
        /// @dev Longest deal accepted, endEpoch - startEpoch, in epochs.
        uint64 maxDealDurationEpochs;
    }

    // ---------------------------------------------------------------- errors

    /// @notice A market parameter is out of its documented range.
    error InvalidMarketParams(string name, uint256 value);
    /// @notice An amount of zero was given where a positive amount is required.
    error ZeroAmount();
    /// @notice An amount does not fit the 128-bit balances.
    error AmountTooLarge(uint256 amount);
    /// @notice `account`'s free balance is `available`, but `required` is needed.
    error InsufficientBalance(address account, uint256 available, uint256 required);
    /// @notice Two parallel arrays differ in length.
    error LengthMismatch(uint256 expected, uint256 actual);
    /// @notice No deal with this id exists.
    error DealNotFound(uint256 dealId);
    /// @notice The proposal given does not hash to the deal's stored key.
    error DealKeyMismatch(uint256 dealId);
    /// @notice Only the deal's provider may do this.
    error NotDealProvider(uint256 dealId, address caller);
    /// @notice The deal is already closed.
    error DealNotOpen(uint256 dealId);
    /// @notice The deal belongs to an earlier generation of its provider's proof set.
    error DealNotInCurrentProofSet(uint256 dealId, uint32 dealGeneration, uint32 currentGeneration);
    /// @notice A fault was declared at or after the current period's challenge epoch.
    error DeclarationTooLate(uint256 dealId, uint64 challengeEpoch, uint256 currentEpoch);
    /// @notice The provider has no live pieces to prove.
    error NoProofSet(address provider);
    /// @notice The current period's challenge epoch has not passed yet.
    error ChallengeWindowNotOpen(address provider, uint256 currentEpoch, uint64 challengeEpoch);
    /// @notice The current period has already been proven.
    error PeriodAlreadyProven(address provider, uint32 period);
    /// @notice The provider missed `maxConsecutiveFaults` periods in a row; the generation failed.
    error ProofSetHasFailed(address provider, uint32 generation);
    /// @notice More proofs than the `4 · challengesPerProof` draws a period allows.
    error TooManyProofs(uint256 provided, uint256 maxDraws);
    /// @notice Fewer challenges were answered than required.
    error TooFewProofs(uint256 provided, uint256 verified, uint256 required);
    /// @notice Draw `draw` picked `leafIndex`, which the named deal does not cover.
    error ChallengeNotInPiece(uint256 draw, uint256 leafIndex, uint256 dealId);
    /// @notice Draw `draw` picked `leafIndex`, which the named free range does not cover
    /// (`freeRange` is the answer's `dealId` word, flag included).
    error ChallengeNotInFreeRange(uint256 draw, uint256 leafIndex, uint256 freeRange);
    /// @notice The Merkle path for draw `draw` does not lead to the deal's piece commitment
    /// (or the terms hash given with it is not the deal's).
    error InvalidMerkleProof(uint256 draw, uint256 dealId);
    /// @notice No unproven, unreported period of `provider` has passed its deadline.
    error NoFaultToReport(address provider, uint32 period, uint64 deadlineEpoch);

    // ---------------------------------------------------------------- events

    /// @notice `payer` added `amount` to `account`'s free balance.
    event BalanceAdded(address indexed account, address indexed payer, uint256 amount);
    /// @notice `account` withdrew `amount` from its free balance.
    event BalanceWithdrawn(address indexed account, uint256 amount);
    /// @notice A deal was published; `startLeaf` is where its piece sits in the provider's proof
    /// set of generation `generation`.
    event DealPublished(
        uint256 indexed dealId,
        address indexed client,
        address indexed provider,
        uint32 generation,
        uint64 startLeaf,
        StorageDealProposal proposal
    );
    /// @notice Item `index` of a `publishStorageDeals` batch was skipped.
    event DealProposalSkipped(
        uint256 index,
        address indexed client,
        address indexed provider,
        uint256 nonce,
        PublishResult reason
    );
    /// @notice A provider's proof set (generation `generation`) started; period 0 begins at
    /// `anchorEpoch`.
    event ProofSetStarted(address indexed provider, uint32 indexed generation, uint64 anchorEpoch);
    /// @notice Period `period` of the provider's proof set was proven with
    /// `challengesVerified` verified leaves.
    event PossessionProven(
        address indexed provider,
        uint32 indexed generation,
        uint32 period,
        uint256 challengesVerified
    );
    /// @notice Period `period` was missed; `consecutiveFaults` periods have now been missed in a
    /// row; `reporter` received `bounty`.
    event FaultRecorded(
        address indexed provider,
        uint32 indexed generation,
        uint32 period,
        uint32 consecutiveFaults,
        address reporter,
        uint256 bounty
    );
    /// @notice The provider's proof set failed at `failedAtEpoch`; its unexpired deals are
    /// terminated and slashed when settled.
    event ProofSetFailed(address indexed provider, uint32 indexed generation, uint64 failedAtEpoch);
    /// @notice A deal's piece was first covered by a proven period (noticed at settlement).
    event DealActivated(uint256 indexed dealId, address indexed provider);
    /// @notice `payment` moved from the client's locked balance to the provider's free balance
    /// for proven epochs up to `settledUpToEpoch` (exclusive).
    event DealSettled(uint256 indexed dealId, address indexed provider, uint256 payment, uint64 settledUpToEpoch);
    /// @notice A deal closed; every amount it had locked was released as listed.
    event DealClosed(
        uint256 indexed dealId,
        CloseReason reason,
        uint256 clientRefund,
        uint256 providerCollateralReturned,
        uint256 slashedToClient,
        uint256 slashedToReporter
    );
    /// @notice A closed deal's range of `2^log2Leaves` leaves at `startLeaf` became free range
    /// `index` of that size class; the next deal of that size reuses the last one freed.
    event RangeFreed(
        address indexed provider,
        uint32 indexed generation,
        uint8 log2Leaves,
        uint256 index,
        uint64 startLeaf
    );

    // ---------------------------------------------------------------- escrow

    /// @notice The ERC-20 token every amount is denominated in.
    function token() external view returns (IERC20);

    /// @notice The deployment parameters.
    function marketParams() external view returns (MarketParams memory);

    /// @notice Pulls `amount` tokens from the caller (who must have approved the market) and
    /// credits them to `account`'s free balance.
    /// @param account Account credited (client or provider).
    /// @param amount Token base units, > 0, < 2^128 in total.
    /// @custom:throws ZeroAmount, AmountTooLarge; token transfer errors bubble up.
    function addBalance(address account, uint256 amount) external;

    /// @notice Sends `amount` of the caller's free balance to the caller.
    /// @param amount Token base units, > 0.
    /// @custom:throws ZeroAmount, InsufficientBalance.
    function withdrawBalance(uint256 amount) external;

    /// @notice An account's escrow.
    /// @return free Token base units available to lock or withdraw.
    /// @return locked Token base units locked in open deals (client payments and collateral).
    function balanceOf(address account) external view returns (uint256 free, uint256 locked);

    // ---------------------------------------------------------------- deals

    /// @notice Publishes client-signed proposals for the caller (the provider). Invalid items are
    /// skipped with a `DealProposalSkipped` event; valid ones lock the client's
    /// `storagePricePerEpoch · (endEpoch - startEpoch) + clientCollateral` and the provider's
    /// `providerCollateral`, add the piece to the provider's proof set and emit `DealPublished`.
    /// @dev A proposal is valid when: the caller is its provider; the client's EIP-712 (or
    /// ERC-1271) signature holds; its (client, nonce) is unused; pieceSize is a power of two in
    /// [128, 2^36]; pieceCid ≠ 0; startEpoch < endEpoch with endEpoch - startEpoch ≤
    /// maxDealDurationEpochs; startEpoch is at or after the end of the first period that can
    /// prove it; both parties' free balances cover their locks. Gas grows linearly with the batch.
    /// @param proposals Signed proposals, any clients.
    /// @return dealIds Id of each published deal, 0 for a skipped item.
    /// @return results `PublishResult.None` for published items, else why the item was skipped.
    function publishStorageDeals(
        SignedStorageDealProposal[] calldata proposals
    ) external returns (uint256[] memory dealIds, PublishResult[] memory results);

    /// @notice Proves possession of the caller's proof set for the current period. Draw i picks
    /// leaf `uint256(keccak256(abi.encodePacked(seed, provider, period, i))) % leaves`, where
    /// `seed = blockhash(challengeEpoch)` and `leaves` is the set's leaf count at the challenge
    /// epoch. `proofs[i]` answers draw i: a sha254 Merkle path inside a deal's piece, or a
    /// freed range that covers the leaf (then one more draw is taken, up to 4·c draws).
    /// @param proofs Answers in draw order; exactly c verified leaves, or all 4·c draws answered.
    /// @custom:throws NoProofSet, ChallengeWindowNotOpen, PeriodAlreadyProven, ProofSetHasFailed,
    /// TooManyProofs, TooFewProofs, ChallengeNotInPiece, ChallengeNotInFreeRange,
    /// InvalidMerkleProof, DealNotFound, NotDealProvider, DealNotOpen, DealNotInCurrentProofSet.
    function provePossession(PieceProof[] calldata proofs) external;

    /// @notice The provider declares the pieces of these deals lost before the current period's
    /// challenge epoch. Each deal is settled for its proven periods, terminated, and pays
    /// `declaredFaultPenaltyBps` of its provider collateral to the client.
    /// @param dealIds Deals of the caller in its current proof set.
    /// @param proposals The deals' proposals, in the same order.
    /// @custom:throws LengthMismatch, DealNotFound, DealKeyMismatch, NotDealProvider,
    /// DealNotOpen, DealNotInCurrentProofSet, DeclarationTooLate, ProofSetHasFailed.
    function declareFaults(uint256[] calldata dealIds, StorageDealProposal[] calldata proposals) external;

    /// @notice Records the earliest unreported period of `provider` that passed its deadline
    /// unproven, paying the caller up to `faultReportBounty` from the provider's free balance.
    /// When this makes `maxConsecutiveFaults` in a row, the proof set fails (`ProofSetFailed`)
    /// and the caller earns `reporterBountyBps` of every slashed collateral in it.
    /// @custom:throws NoProofSet, NoFaultToReport, ProofSetHasFailed.
    function reportFault(address provider) external;

    /// @notice Settles deals (anyone may call): pays each provider for the proven epochs since the
    /// last settlement and closes deals that ended, failed, or were never activated, releasing
    /// or slashing what they locked. O(1) per deal.
    /// @param dealIds Deals to settle.
    /// @param proposals Their proposals, in the same order.
    /// @return payments Token base units paid to each deal's provider by this call.
    /// @custom:throws LengthMismatch, DealNotFound, DealKeyMismatch, DealNotOpen.
    function settleDeals(
        uint256[] calldata dealIds,
        StorageDealProposal[] calldata proposals
    ) external returns (uint256[] memory payments);

    // ---------------------------------------------------------------- views

    /// @notice The EIP-712 digest a client signs for `proposal`.
    function hashProposal(StorageDealProposal calldata proposal) external view returns (bytes32);

    /// @notice The EIP-712 struct hash of `proposal` ("terms hash"), used in `PieceProof`.
    function termsHash(StorageDealProposal calldata proposal) external pure returns (bytes32);

    /// @notice Whether `client` has used `nonce` in a published deal.
    function isNonceUsed(address client, uint256 nonce) external view returns (bool);

    /// @notice True when `dealId` exists and `proposal` is its proposal.
    function isDealProposal(uint256 dealId, StorageDealProposal calldata proposal) external view returns (bool);

    /// @notice A deal's current state (lazily computed) and placement.
    /// @custom:throws DealNotFound.
    function dealInfo(uint256 dealId) external view returns (DealInfo memory);

    /// @notice The state of `provider`'s current proof-set generation.
    function proofSetInfo(address provider) external view returns (ProofSetInfo memory);

    /// @notice The leaf drawn by draw `draw` of the provider's current period (reverts before the
    /// challenge epoch). Agents use it to build `provePossession` answers.
    /// @custom:throws NoProofSet, ChallengeWindowNotOpen.
    function challengedLeaf(address provider, uint256 draw) external view returns (uint256 leafIndex);

    /// @notice Start leaf of free range `index` of size class `log2Leaves` in `provider`'s proof
    /// set generation `generation`, and how many ranges that class holds.
    function freeRange(
        address provider,
        uint32 generation,
        uint8 log2Leaves,
        uint256 index
    ) external view returns (uint64 startLeaf, uint256 count);

    /// @notice Id the next published deal will get.
    function nextDealId() external view returns (uint256);
}
