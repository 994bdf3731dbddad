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
    DataSetInfo
} from "../types/StorageDealTypes.sol";

/// @title IStorageMarket
/// @notice The seed's StorageMarketActor (seed 001) on an EVM chain: escrow with free and locked
/// balances, client-signed storage deals published by providers in batches, PDP-style proofs of
/// possession every proving period, faults, slashing and pulled payments.
/// @dev Units: amounts are ERC-20 base units of `token()`; epochs are block numbers; sizes are
/// bytes unless named "leaves" (one leaf = one 32-byte fr32 node). A data set holds the pieces one
/// provider stores for one client (FilOz PDP's data set); it is proven on its own, and periods are
/// numbered from 0 within it; period k spans
/// [anchorEpoch + k·P, anchorEpoch + (k+1)·P); its challenge epoch is `anchorEpoch + (k+1)·P - W`
/// and its proof is accepted in the W epochs after the challenge epoch, up to and including the
/// period's last epoch. P = provingPeriodEpochs, W = challengeWindowEpochs.
interface IStorageMarket {
    /// @notice Deployment parameters; all fixed at construction.
    struct MarketParams {
        /// @dev Length of a proving period in epochs (P), at least 2 (MIN_PROVING_PERIOD_EPOCHS).
        /// Default 60.
        uint64 provingPeriodEpochs;
        /// @dev Epochs at the end of each period in which the proof is accepted (W), 1 ≤ W < P,
        /// W ≤ 240 (MAX_CHALLENGE_WINDOW_EPOCHS) so the challenge block hash is still readable.
        /// Default 20.
        uint64 challengeWindowEpochs;
        /// @dev Leaves challenged per period (c), 1..16 (MAX_CHALLENGES_PER_PROOF). Default 5.
        uint8 challengesPerProof;
        /// @dev Missed periods in a row after which a data set fails and all its unexpired
        /// deals are terminated and slashed, 1..200 (MAX_CONSECUTIVE_FAULTS). Default 3.
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
    /// @notice The extension does not end later, or would make the deal longer than the
    /// maximum duration.
    error InvalidExtension(uint256 dealId);
    /// @notice The deal has reached its end epoch; an ended deal cannot be extended.
    error DealEnded(uint256 dealId, uint64 endEpoch);
    /// @notice The client's signature over the extended proposal does not hold.
    error InvalidClientSignature(uint256 dealId, address client);
    /// @notice The client already used this nonce.
    error NonceAlreadyUsed(address client, uint256 nonce);
    /// @notice Only the deal's provider may do this.
    error NotDealProvider(uint256 dealId, address caller);
    /// @notice The deal is already closed.
    error DealNotOpen(uint256 dealId);
    /// @notice A fault was declared at or after the current period's challenge epoch.
    error DeclarationTooLate(uint256 dealId, uint64 challengeEpoch, uint256 currentEpoch);
    /// @notice No data set with this id exists, or it holds no live pieces any more.
    error NoDataSet(uint256 dataSetId);
    /// @notice Only the data set's provider may prove it.
    error NotDataSetProvider(uint256 dataSetId, address caller);
    /// @notice The current period's challenge epoch has not passed yet.
    error ChallengeWindowNotOpen(uint256 dataSetId, uint256 currentEpoch, uint64 challengeEpoch);
    /// @notice The current period has already been proven.
    error PeriodAlreadyProven(uint256 dataSetId, uint32 period);
    /// @notice The data set missed `maxConsecutiveFaults` periods in a row and failed.
    error DataSetHasFailed(uint256 dataSetId);
    /// @notice More answers than the `16 · challengesPerProof` draws a period allows, or more
    /// than were needed to verify `challengesPerProof` leaves.
    error TooManyProofs(uint256 provided, uint256 used);
    /// @notice The answers ran out before `required` live leaves were verified.
    error TooFewProofs(uint256 provided, uint256 verified, uint256 required);
    /// @notice Too little gas was left to give an ERC-1271 signature check its full stipend.
    error SignatureCheckNeedsGas(uint256 gasLeft, uint256 needed);
    /// @notice The Merkle path for draw `draw` does not lead to the deal's piece commitment
    /// (or the terms hash given with it is not the deal's).
    error InvalidMerkleProof(uint256 draw, uint256 dealId);
    /// @notice No unproven, unreported period of the data set has passed its deadline.
    error NoFaultToReport(uint256 dataSetId, uint32 period, uint64 deadlineEpoch);

    // ---------------------------------------------------------------- events

    /// @notice `payer` added `amount` to `account`'s free balance.
    /// @param account The account credited.
    /// @param payer The caller whose tokens were pulled.
    /// @param amount Token base units credited: what arrived (a fee-taking token delivers less).
    event BalanceAdded(address indexed account, address indexed payer, uint256 amount);
    /// @notice `account` withdrew `amount` from its free balance.
    /// @param account The account paid.
    /// @param amount Token base units sent.
    event BalanceWithdrawn(address indexed account, uint256 amount);
    /// @notice A deal was published; its piece is piece `pieceIndex` of data set `dataSetId`.
    /// @param dealId The new deal's id.
    /// @param client The proposal's client.
    /// @param provider The proposal's provider.
    /// @param dataSetId The data set of (provider, client) the piece joined.
    /// @param pieceIndex The piece's index in that data set (1-based).
    /// @param proposal The full proposal; later calls take it back as calldata.
    event DealPublished(
        uint256 indexed dealId,
        address indexed client,
        address indexed provider,
        uint256 dataSetId,
        uint64 pieceIndex,
        StorageDealProposal proposal
    );
    /// @notice Item `index` of a `publishStorageDeals` batch was skipped.
    /// @param index Position of the item in the batch (0-based).
    /// @param client The item's client.
    /// @param provider The item's provider.
    /// @param nonce The item's nonce (still unused).
    /// @param reason Why it was skipped.
    event DealProposalSkipped(
        uint256 index,
        address indexed client,
        address indexed provider,
        uint256 nonce,
        PublishResult reason
    );
    /// @notice A data set for (provider, client) started; period 0 begins at `anchorEpoch`.
    /// @param dataSetId The new data set's id.
    /// @param provider The provider that proves it.
    /// @param client The client whose deals it holds.
    /// @param anchorEpoch The block number period 0 starts at (the publish block).
    event DataSetCreated(
        uint256 indexed dataSetId,
        address indexed provider,
        address indexed client,
        uint64 anchorEpoch
    );
    /// @notice Period `period` of the data set was proven with `challengesVerified` verified
    /// live leaves (always `challengesPerProof`).
    /// @param dataSetId The data set proven.
    /// @param provider Its provider (the caller).
    /// @param period The period proven.
    /// @param challengesVerified Live leaves verified.
    event PossessionProven(
        uint256 indexed dataSetId,
        address indexed provider,
        uint32 period,
        uint256 challengesVerified
    );
    /// @notice Period `period` was missed; `consecutiveFaults` periods have now been missed in a
    /// row; `reporter` received `bounty`.
    /// @param dataSetId The data set.
    /// @param provider Its provider.
    /// @param period The missed period recorded.
    /// @param consecutiveFaults Periods now missed in a row, this one included.
    /// @param reporter The caller.
    /// @param bounty Token base units paid to the reporter from the provider's free balance (0 for the
    /// provider itself).
    event FaultRecorded(
        uint256 indexed dataSetId,
        address indexed provider,
        uint32 period,
        uint32 consecutiveFaults,
        address reporter,
        uint256 bounty
    );
    /// @notice The data set failed at `failedAtEpoch`; its unexpired deals are terminated and
    /// slashed when settled.
    /// @param dataSetId The data set.
    /// @param provider Its provider.
    /// @param failedAtEpoch Epoch of failure: the first epoch after the last missed period.
    event DataSetFailed(uint256 indexed dataSetId, address indexed provider, uint64 failedAtEpoch);
    /// @notice Deal `dealId` now ends at `newEndEpoch` instead of `oldEndEpoch`; the client locked
    /// `extraLocked` more; its proposal is now the one it had with `endEpoch = newEndEpoch` and
    /// `nonce = newNonce`.
    /// @param dealId The deal.
    /// @param oldEndEpoch Its end epoch before.
    /// @param newEndEpoch Its end epoch now.
    /// @param extraLocked Token base units more locked from the client's free balance.
    /// @param newNonce The client nonce the extension used up.
    event DealExtended(
        uint256 indexed dealId,
        uint64 oldEndEpoch,
        uint64 newEndEpoch,
        uint256 extraLocked,
        uint256 newNonce
    );
    /// @notice A deal's piece was first covered by a proven period (noticed at settlement).
    /// @param dealId The deal.
    /// @param provider Its provider.
    event DealActivated(uint256 indexed dealId, address indexed provider);
    /// @notice `payment` moved from the client's locked balance to the provider's free balance
    /// for proven epochs up to `settledUpToEpoch` (exclusive).
    /// @param dealId The deal.
    /// @param provider Its provider, who was paid.
    /// @param payment Token base units moved to the provider.
    /// @param settledUpToEpoch Epoch up to which (exclusive) the deal is now settled.
    event DealSettled(uint256 indexed dealId, address indexed provider, uint256 payment, uint64 settledUpToEpoch);
    /// @notice A deal closed; every amount it had locked was released as listed.
    /// @param dealId The deal.
    /// @param reason Why it closed.
    /// @param clientRefund Token base units of the client's lock returned to its free balance.
    /// @param providerCollateralReturned Token base units of collateral returned to the provider.
    /// @param slashedToClient Token base units of slashed collateral paid to the client.
    /// @param slashedToReporter Token base units of slashed collateral paid to the failure's reporter.
    event DealClosed(
        uint256 indexed dealId,
        CloseReason reason,
        uint256 clientRefund,
        uint256 providerCollateralReturned,
        uint256 slashedToClient,
        uint256 slashedToReporter
    );
    /// @notice A closed deal's piece left its data set's sum tree: it is never drawn again.
    /// @param dataSetId The data set.
    /// @param dealId The closed deal whose piece left.
    /// @param pieceIndex The piece's index (its weight is now 0).
    event PieceRemoved(uint256 indexed dataSetId, uint256 indexed dealId, uint64 pieceIndex);

    // ---------------------------------------------------------------- escrow

    /// @notice The ERC-20 token every amount is denominated in.
    /// @return The token.
    function token() external view returns (IERC20);

    /// @notice The deployment parameters.
    /// @return The parameters given at construction.
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
    /// @param account Any account.
    /// @return free Token base units available to lock or withdraw.
    /// @return locked Token base units locked in open deals (client payments and collateral).
    function balanceOf(address account) external view returns (uint256 free, uint256 locked);

    // ---------------------------------------------------------------- deals

    /// @notice Publishes client-signed proposals. The provider publishes its own deals with the
    /// client's signature alone; anyone else (the client, a repair miner, a relayer) needs the
    /// provider's acceptance too (seed 001 steps 2–3: either party may put the signed deal on
    /// chain, so a provider that took the bytes is held to the deal). Invalid items are
    /// skipped with a `DealProposalSkipped` event; valid ones lock the client's
    /// `storagePricePerEpoch · (endEpoch - startEpoch) + clientCollateral` and the provider's
    /// `providerCollateral`, add the piece to the data set of (provider, client) — starting a new
    /// one when the pair has none or its last one failed or emptied — and emit `DealPublished`.
    /// @dev A proposal is valid when: the client's EIP-712 (or ERC-1271, checked with a stipend
    /// of 60,000 gas so a wallet that burns gas cannot sink the batch) signature holds; the
    /// caller is its provider or the provider's `StorageDealAcceptance` signature (EIP-712 or
    /// ERC-1271, same stipend) holds; its (client, nonce) is unused; pieceSize is a power of two in
    /// [128, 2^36] (`PieceSizes.MIN_PIECE_SIZE`, `MAX_PIECE_SIZE`) and payloadSize needs it
    /// (`PieceSizes.minimalPayloadRange`); pieceCid ≠ 0; startEpoch < endEpoch with endEpoch - startEpoch ≤
    /// maxDealDurationEpochs; startEpoch is at or after the end of the first period that can
    /// prove it; both parties' free balances cover their locks. Gas grows linearly with the batch.
    /// @param proposals Signed proposals, any clients and (with acceptances) any providers.
    /// @return dealIds Id of each published deal, 0 for a skipped item.
    /// @return results `PublishResult.None` for published items, else why the item was skipped.
    function publishStorageDeals(
        SignedStorageDealProposal[] calldata proposals
    ) external returns (uint256[] memory dealIds, PublishResult[] memory results);

    /// @notice Renews an open deal (seed 001's `UpdateStorageDeal`): the deal's provider sends the
    /// client's signature over the extended proposal, which is `current` with `endEpoch =
    /// newEndEpoch` and `nonce = newNonce` (only those two can change: the rest is taken from
    /// `current`, so a signature over any other change fails as InvalidClientSignature). The
    /// client locks `storagePricePerEpoch · (newEndEpoch − old end)` more; the piece stays in its
    /// data set, and from now on the extended proposal is the deal's (settle and declare with it,
    /// prove with its terms hash).
    /// @param dealId An open deal of the caller, before its end epoch, in a data set that has not
    /// failed.
    /// @param current The deal's current proposal.
    /// @param newEndEpoch The new end epoch, after the current one, with newEndEpoch − startEpoch ≤
    /// maxDealDurationEpochs.
    /// @param newNonce An unused nonce of the client, used up by the extension.
    /// @param clientSignature The client's EIP-712 (or ERC-1271) signature over the extended
    /// proposal.
    /// @custom:throws DealNotFound, DealKeyMismatch, DealNotOpen, NotDealProvider, DealEnded,
    /// DataSetHasFailed, InvalidExtension, NonceAlreadyUsed, InvalidClientSignature,
    /// InsufficientBalance, AmountTooLarge.
    function extendStorageDeal(
        uint256 dealId,
        StorageDealProposal calldata current,
        uint64 newEndEpoch,
        uint256 newNonce,
        bytes calldata clientSignature
    ) external;

    /// @notice Proves possession of data set `dataSetId` for the current period. Draw i picks live
    /// leaf `uint256(keccak256(abi.encodePacked(seed, dataSetId, period, i))) % leaves`, where
    /// `seed = blockhash(challengeEpoch)` and `leaves` counts the payload leaves (⌈4 · payloadSize
    /// / 127⌉ per piece, zero padding excluded) of the set's pieces at the challenge epoch; the
    /// sum tree names the piece holding it and the leaf's offset in it. `proofs[i]` answers draw i: a
    /// sha254 Merkle path inside that piece, or, when the piece's deal closed while the window
    /// was open, an empty answer (then one more draw is taken, up to 16·c draws). The proof is
    /// accepted only when exactly c = challengesPerProof leaves verified.
    /// @param dataSetId A data set of the caller.
    /// @param proofs Answers in draw order.
    /// @custom:throws NoDataSet, NotDataSetProvider, ChallengeWindowNotOpen, PeriodAlreadyProven,
    /// DataSetHasFailed, TooManyProofs, TooFewProofs, InvalidMerkleProof.
    function provePossession(uint256 dataSetId, PieceProof[] calldata proofs) external;
    /// @notice The provider declares the pieces of these deals lost before the current period's
    /// challenge epoch of their data sets. Each deal is settled for its proven periods, terminated,
    /// and pays `declaredFaultPenaltyBps` of its provider collateral to the client; a deal that
    /// missed its activation (no proven period by its startEpoch) closes as `NotActivated`
    /// instead and pays the client the whole collateral.
    /// @param dealIds Open deals of the caller.
    /// @param proposals The deals' proposals, in the same order.
    /// @custom:throws LengthMismatch, DealNotFound, DealKeyMismatch, NotDealProvider,
    /// DealNotOpen, DeclarationTooLate, DataSetHasFailed.
    function declareFaults(uint256[] calldata dealIds, StorageDealProposal[] calldata proposals) external;

    /// @notice Records the earliest unreported period of data set `dataSetId` that passed its
    /// deadline unproven, paying the caller up to `faultReportBounty` from the provider's free
    /// balance. When this makes `maxConsecutiveFaults` in a row, the set fails (`DataSetFailed`)
    /// and the caller earns `reporterBountyBps` of every slashed collateral in it. The set's own
    /// provider may record its faults but earns nothing: no bounty, and the reporter share of a
    /// failure goes to the client.
    /// @custom:throws NoDataSet, NoFaultToReport, DataSetHasFailed.
    /// @param dataSetId Any data set with live pieces.
    function reportFault(uint256 dataSetId) external;

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

    /// @notice The EIP-712 struct hash of `proposal` ("terms hash"), used in `PieceProof`.
    /// @param proposal Any proposal.
    /// @return The terms hash.
    function termsHash(StorageDealProposal calldata proposal) external pure returns (bytes32);

    /// @notice Whether `client` has used `nonce` in a published deal.
    /// @param client Any client.
    /// @param nonce Any nonce.
    /// @return True once a deal (or extension) of `client` used `nonce`.
    function isNonceUsed(address client, uint256 nonce) external view returns (bool);

    /// @notice True when `dealId` exists and `proposal` is its proposal.
    /// @param dealId Any id.
    /// @param proposal The proposal to check.
    /// @return True when the proposal hashes to the deal's stored key.
    function isDealProposal(uint256 dealId, StorageDealProposal calldata proposal) external view returns (bool);

    /// @notice A deal's current state (lazily computed) and placement.
    /// @param dealId A published deal.
    /// @return The deal's data set, piece, end and settlement epochs and state.
    /// @custom:throws DealNotFound.
    function dealInfo(uint256 dealId) external view returns (DealInfo memory);

    /// @notice The state of data set `dataSetId` (all zero when it does not exist).
    /// @param dataSetId Any id.
    /// @return The data set's state.
    function dataSetInfo(uint256 dataSetId) external view returns (DataSetInfo memory);
    /// @notice The current data set of (provider, client), 0 when the pair has none.
    /// @param provider Any provider.
    /// @param client Any client.
    /// @return The data set id new deals of the pair join.
    function dataSetOf(address provider, address client) external view returns (uint256);
    /// @notice Data sets `provider` ever had, oldest first: up to `limit` ids from `offset`, and
    /// how many there are in all.
    /// @param provider Any provider.
    /// @param offset Index of the first id returned.
    /// @param limit Most ids returned.
    /// @return dataSetIds Up to `limit` ids from `offset` (fewer past the end).
    /// @return total How many data sets `provider` ever had.
    function providerDataSets(
        address provider,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256[] memory dataSetIds, uint256 total);
    /// @notice The deal and leaf offset (within its piece) drawn by draw `draw` of the data set's
    /// current period (reverts before the challenge epoch), and whether that deal is closed
    /// (then the answer is empty). Agents use it to build `provePossession` answers.
    /// @param dataSetId A data set in its proof window.
    /// @param draw Draw number, from 0.
    /// @return dealId The deal whose piece the draw landed in.
    /// @return leafOffset The leaf's offset inside that piece, in leaves.
    /// @return closed True when that deal is closed (answer with an empty proof).
    /// @custom:throws NoDataSet, ChallengeWindowNotOpen.
    function challengedPiece(
        uint256 dataSetId,
        uint256 draw
    ) external view returns (uint256 dealId, uint256 leafOffset, bool closed);
    /// @notice Id the next published deal will get.
    /// @return The next deal id (ids start at 1).
    function nextDealId() external view returns (uint256);
}
