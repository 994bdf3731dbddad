// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IStorageMarket} from "../interfaces/IStorageMarket.sol";
import {
    StorageDealProposal,
    SignedStorageDealProposal,
    PieceProof,
    PublishResult,
    FREE_RANGE_FLAG
} from "../types/StorageDealTypes.sol";
import {DealProposals} from "../libraries/DealProposals.sol";
import {DealRecords} from "../libraries/DealRecords.sol";
import {ProofSets} from "../libraries/ProofSets.sol";
import {ProvenPeriods} from "../libraries/ProvenPeriods.sol";
import {Sha254MerkleProof} from "../libraries/Sha254MerkleProof.sol";
import {DealLedger} from "./DealLedger.sol";

/// @title StorageMarket
/// @notice The seed's StorageMarketActor (seed 001) with FilOz-PDP-style proofs of possession.
/// @dev Per deal the market stores two words at publish: a key binding the piece commitment to
/// the EIP-712 terms hash, and a packed record (provider, proof-set generation, period added,
/// leaf range). Calls that need the terms take the proposal as calldata and check it against the
/// key; the full proposal is in `DealPublished`. Deal state is derived lazily from the provider's
/// proof set, so no call loops over deals and nothing runs on a schedule.
contract StorageMarket is DealLedger, EIP712 {
    using ProofSets for ProofSets.ProofSet;
    using ProvenPeriods for mapping(uint256 => uint256);

    /// @dev Draws allowed per required challenge (draws landing in freed ranges are redrawn).
    uint256 private constant DRAWS_PER_CHALLENGE = 4;

    uint256 private _nextDealId = 1;
    mapping(address client => mapping(uint256 word => uint256)) private _nonceBitmaps;

    /// @param paymentToken The ERC-20 every amount is paid in.
    /// @param params Deployment parameters (see `IStorageMarket.MarketParams` for ranges).
    constructor(
        IERC20 paymentToken,
        MarketParams memory params
    ) DealLedger(paymentToken, params) EIP712("RepairMarket StorageMarket", "1") {}

    // ------------------------------------------------------------------ publish

    /// @inheritdoc IStorageMarket
    function publishStorageDeals(
        SignedStorageDealProposal[] calldata proposals
    ) external returns (uint256[] memory dealIds, PublishResult[] memory results) {
        uint256 count = proposals.length;
        dealIds = new uint256[](count);
        results = new PublishResult[](count);
        uint32 generation = _generationForPublish(msg.sender);
        uint256 dealId = _nextDealId;
        for (uint256 i; i < count; ++i) {
            PublishResult result = _publishOne(proposals[i], dealId, generation);
            if (result == PublishResult.None) {
                dealIds[i] = dealId;
                ++dealId;
            } else {
                results[i] = result;
                StorageDealProposal calldata p = proposals[i].proposal;
                emit DealProposalSkipped(i, p.client, p.provider, p.nonce, result);
            }
        }
        _nextDealId = dealId;
    }

    /// @dev The generation new deals of `provider` join, starting a new one after a failure.
    function _generationForPublish(address provider) private returns (uint32 generation) {
        generation = _generations[provider];
        ProofSets.ProofSet storage set = _proofSets[provider][generation];
        if (set.anchorEpoch != 0 && set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) {
            ++generation;
            _generations[provider] = generation;
        }
    }

    function _publishOne(
        SignedStorageDealProposal calldata item,
        uint256 dealId,
        uint32 generation
    ) private returns (PublishResult) {
        StorageDealProposal calldata p = item.proposal;
        (PublishResult result, uint256 log2Leaves, uint256 clientLock) = _checkTerms(p);
        if (result != PublishResult.None) return result;

        ProofSets.ProofSet storage set = _proofSets[msg.sender][generation];
        uint256 anchor = set.anchorEpoch == 0 ? block.number : set.anchorEpoch;
        uint256 addedPeriod = _periodForNewPiece(anchor);
        if (p.startEpoch < anchor + (addedPeriod + 1) * _provingPeriodEpochs) {
            return PublishResult.StartEpochTooSoon;
        }
        if (_balances[p.client].free < clientLock) return PublishResult.ClientBalanceTooLow;
        if (_balances[msg.sender].free < p.providerCollateral) return PublishResult.ProviderBalanceTooLow;
        if (set.totalLeaves + (uint256(1) << log2Leaves) > DealRecords.MAX_LEAVES) {
            return PublishResult.ProofSetFull;
        }
        bytes32 terms = DealProposals.structHash(p);
        if (!SignatureChecker.isValidSignatureNow(p.client, _hashTypedDataV4(terms), item.clientSignature)) {
            return PublishResult.InvalidSignature;
        }

        _useNonce(p.client, p.nonce);
        _lock(p.client, clientLock);
        _lock(msg.sender, p.providerCollateral);
        if (set.anchorEpoch == 0) {
            set.anchorEpoch = uint64(block.number);
            emit ProofSetStarted(msg.sender, generation, uint64(block.number));
        }
        uint64 startLeaf = _allocateRange(set, msg.sender, generation, log2Leaves);
        _dealKeys[dealId] = DealProposals.dealKey(p.pieceCid, terms);
        _dealRecords[dealId] = DealRecords.pack(
            DealRecords.Record({
                provider: msg.sender,
                generation: generation,
                addedPeriod: uint32(addedPeriod),
                startLeaf: startLeaf,
                log2Leaves: uint8(log2Leaves),
                status: DealRecords.Status.Open
            })
        );
        emit DealPublished(dealId, p.client, msg.sender, generation, startLeaf, p);
        return PublishResult.None;
    }

    /// @dev Checks that need no proof-set state. Returns the piece's log2 leaf count and what
    /// the client locks: storagePricePerEpoch · duration + clientCollateral.
    function _checkTerms(
        StorageDealProposal calldata p
    ) private view returns (PublishResult result, uint256 log2Leaves, uint256 clientLock) {
        if (p.provider != msg.sender) return (PublishResult.ProviderMismatch, 0, 0);
        if (p.pieceCid == bytes32(0)) return (PublishResult.InvalidPieceCid, 0, 0);
        uint256 size = p.pieceSize;
        if (size < 128 || size > (uint256(1) << 36) || size & (size - 1) != 0) {
            return (PublishResult.InvalidPieceSize, 0, 0);
        }
        if (p.startEpoch >= p.endEpoch) return (PublishResult.InvalidEpochs, 0, 0);
        uint256 duration = p.endEpoch - p.startEpoch;
        if (duration > _maxDealDurationEpochs) return (PublishResult.DurationTooLong, 0, 0);
        if (isNonceUsed(p.client, p.nonce)) return (PublishResult.NonceUsed, 0, 0);
        // duration < 2^64, so price < 2^128 keeps the product below 2^192.
        if (
            p.storagePricePerEpoch > type(uint128).max ||
            p.clientCollateral > type(uint128).max ||
            p.providerCollateral > type(uint128).max
        ) return (PublishResult.AmountTooLarge, 0, 0);
        clientLock = p.storagePricePerEpoch * duration + p.clientCollateral;
        if (clientLock > type(uint128).max) return (PublishResult.AmountTooLarge, 0, 0);
        // size is a power of two in [2^7, 2^36]: leaves = size / 32.
        while (size > 32) {
            size >>= 1;
            ++log2Leaves;
        }
        return (PublishResult.None, log2Leaves, clientLock);
    }

    /// @dev First period that can prove a piece added now: the current one if its challenge
    /// epoch is still ahead, else the next.
    function _periodForNewPiece(uint256 anchor) private view returns (uint256) {
        uint256 periodEpochs = _provingPeriodEpochs;
        uint256 period = (block.number - anchor) / periodEpochs;
        uint256 challenge = anchor + (period + 1) * periodEpochs - _challengeWindowEpochs;
        return block.number <= challenge ? period : period + 1;
    }

    /// @dev Reuses the most recently freed range of the same size, else appends.
    function _allocateRange(
        ProofSets.ProofSet storage set,
        address provider,
        uint32 generation,
        uint256 log2Leaves
    ) private returns (uint64 startLeaf) {
        uint64[] storage free = _freeRanges[provider][(uint256(generation) << 8) | log2Leaves];
        uint256 freeCount = free.length;
        if (freeCount != 0) {
            startLeaf = free[freeCount - 1];
            free.pop();
        } else {
            startLeaf = set.append(uint256(1) << log2Leaves, _provingPeriodEpochs, _challengeWindowEpochs);
        }
        set.liveLeaves += uint64(uint256(1) << log2Leaves);
    }

    function _useNonce(address client, uint256 nonce) private {
        _nonceBitmaps[client][nonce >> 8] |= uint256(1) << (nonce & 0xff);
    }

    // ------------------------------------------------------------------ proofs

    /// @inheritdoc IStorageMarket
    function provePossession(PieceProof[] calldata proofs) external {
        address provider = msg.sender;
        uint32 generation = _generations[provider];
        ProofSets.ProofSet storage set = _proofSets[provider][generation];
        (uint256 period, uint256 challenge) = _openPeriod(set, provider, generation);
        uint256 required = _challengesPerProof;
        uint256 maxDraws = required * DRAWS_PER_CHALLENGE;
        if (proofs.length > maxDraws) revert TooManyProofs(proofs.length, maxDraws);

        bytes32 seed = blockhash(challenge);
        uint256 leaves = set.challengeLeaves(period);
        uint256 verified;
        uint256 answered;
        while (answered < proofs.length && verified < required) {
            uint256 leafIndex = _drawLeaf(seed, provider, period, answered, leaves);
            if (_checkAnswer(proofs[answered], provider, generation, answered, leafIndex)) ++verified;
            ++answered;
        }
        if (answered != proofs.length) revert TooManyProofs(proofs.length, answered);
        if (verified < required && answered < maxDraws) revert TooFewProofs(answered, verified, required);

        _provenWords[provider][generation].markProven(period, set.provenPeriods);
        set.lastProvenPlusOne = uint32(period + 1);
        ++set.provenPeriods;
        emit PossessionProven(provider, generation, uint32(period), verified);
    }

    /// @dev The current period of a live, unfailed set whose challenge epoch has passed.
    function _openPeriod(
        ProofSets.ProofSet storage set,
        address provider,
        uint32 generation
    ) private view returns (uint256 period, uint256 challenge) {
        if (set.anchorEpoch == 0) revert NoProofSet(provider);
        period = set.currentPeriod(_provingPeriodEpochs);
        if (set.lastProvenPlusOne > period) revert PeriodAlreadyProven(provider, uint32(period));
        if (set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) {
            revert ProofSetHasFailed(provider, generation);
        }
        challenge = set.challengeEpoch(period, _provingPeriodEpochs, _challengeWindowEpochs);
        if (block.number <= challenge) revert ChallengeWindowNotOpen(provider, block.number, uint64(challenge));
    }

    function _drawLeaf(
        bytes32 seed,
        address provider,
        uint256 period,
        uint256 draw,
        uint256 leaves
    ) private pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(seed, provider, period, draw))) % leaves;
    }

    /// @dev Verifies one answer; true when it proved a leaf, false when it showed a freed range.
    function _checkAnswer(
        PieceProof calldata answer,
        address provider,
        uint32 generation,
        uint256 draw,
        uint256 leafIndex
    ) private view returns (bool) {
        uint256 dealId = answer.dealId;
        if (dealId & FREE_RANGE_FLAG != 0) {
            uint256 log2Leaves = (dealId >> 64) & 0xff;
            uint256 index = uint64(dealId);
            uint64[] storage free = _freeRanges[provider][(uint256(generation) << 8) | log2Leaves];
            if (index >= free.length) revert ChallengeNotInFreeRange(draw, leafIndex, dealId);
            uint256 start = free[index];
            if (leafIndex < start || leafIndex >= start + (uint256(1) << log2Leaves)) {
                revert ChallengeNotInFreeRange(draw, leafIndex, dealId);
            }
            return false;
        }
        uint256 word = _dealRecords[dealId];
        if (word == 0) revert DealNotFound(dealId);
        DealRecords.Record memory record = DealRecords.unpack(word);
        if (record.provider != provider) revert NotDealProvider(dealId, provider);
        if (record.status != DealRecords.Status.Open) revert DealNotOpen(dealId);
        if (record.generation != generation) {
            revert DealNotInCurrentProofSet(dealId, record.generation, generation);
        }
        uint256 leaves = uint256(1) << record.log2Leaves;
        if (leafIndex < record.startLeaf || leafIndex >= record.startLeaf + leaves) {
            revert ChallengeNotInPiece(draw, leafIndex, dealId);
        }
        if (answer.siblings.length != record.log2Leaves) revert InvalidMerkleProof(draw, dealId);
        bytes32 root = Sha254MerkleProof.processProof(answer.leaf, leafIndex - record.startLeaf, answer.siblings);
        if (_dealKeys[dealId] != DealProposals.dealKey(root, answer.termsHash)) revert InvalidMerkleProof(draw, dealId);
        return true;
    }

    // ------------------------------------------------------------------ faults

    /// @inheritdoc IStorageMarket
    function declareFaults(uint256[] calldata dealIds, StorageDealProposal[] calldata proposals) external {
        if (dealIds.length != proposals.length) revert LengthMismatch(dealIds.length, proposals.length);
        uint32 generation = _generations[msg.sender];
        ProofSets.ProofSet storage set = _proofSets[msg.sender][generation];
        for (uint256 i; i < dealIds.length; ++i) {
            uint256 dealId = dealIds[i];
            DealRecords.Record memory record = _loadOpenDeal(dealId, proposals[i]);
            if (record.provider != msg.sender) revert NotDealProvider(dealId, msg.sender);
            if (record.generation != generation) {
                revert DealNotInCurrentProofSet(dealId, record.generation, generation);
            }
            if (set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) {
                revert ProofSetHasFailed(msg.sender, generation);
            }
            uint256 period = set.currentPeriod(_provingPeriodEpochs);
            uint256 challenge = set.challengeEpoch(period, _provingPeriodEpochs, _challengeWindowEpochs);
            if (block.number > challenge) revert DeclarationTooLate(dealId, uint64(challenge), block.number);
            _settle(dealId, record, proposals[i], true);
        }
    }

    /// @inheritdoc IStorageMarket
    function reportFault(address provider) external {
        uint32 generation = _generations[provider];
        ProofSets.ProofSet storage set = _proofSets[provider][generation];
        if (set.anchorEpoch == 0) revert NoProofSet(provider);
        uint256 lastProvenPlusOne = set.lastProvenPlusOne;
        uint256 period = lastProvenPlusOne > set.lastReportedPlusOne ? lastProvenPlusOne : set.lastReportedPlusOne;
        uint256 streak = period - lastProvenPlusOne + 1;
        if (streak > _maxConsecutiveFaults) revert ProofSetHasFailed(provider, generation);
        uint256 deadline = set.periodStart(period + 1, _provingPeriodEpochs) - 1;
        if (block.number <= deadline) revert NoFaultToReport(provider, uint32(period), uint64(deadline));

        set.lastReportedPlusOne = uint32(period + 1);
        uint256 bounty = _payFromFreeCapped(provider, msg.sender, _faultReportBounty);
        emit FaultRecorded(provider, generation, uint32(period), uint32(streak), msg.sender, bounty);
        if (streak == _maxConsecutiveFaults) {
            set.failureReporter = msg.sender;
            emit ProofSetFailed(provider, generation, uint64(deadline + 1));
        }
    }

    // ------------------------------------------------------------------ settlement

    /// @inheritdoc IStorageMarket
    function settleDeals(
        uint256[] calldata dealIds,
        StorageDealProposal[] calldata proposals
    ) external returns (uint256[] memory payments) {
        if (dealIds.length != proposals.length) revert LengthMismatch(dealIds.length, proposals.length);
        payments = new uint256[](dealIds.length);
        for (uint256 i; i < dealIds.length; ++i) {
            DealRecords.Record memory record = _loadOpenDeal(dealIds[i], proposals[i]);
            payments[i] = _settle(dealIds[i], record, proposals[i], false);
        }
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IStorageMarket
    function hashProposal(StorageDealProposal calldata proposal) external view returns (bytes32) {
        return _hashTypedDataV4(DealProposals.structHash(proposal));
    }

    /// @inheritdoc IStorageMarket
    function termsHash(StorageDealProposal calldata proposal) external pure returns (bytes32) {
        return DealProposals.structHash(proposal);
    }

    /// @inheritdoc IStorageMarket
    function isNonceUsed(address client, uint256 nonce) public view returns (bool) {
        return (_nonceBitmaps[client][nonce >> 8] >> (nonce & 0xff)) & 1 == 1;
    }

    /// @inheritdoc IStorageMarket
    function challengedLeaf(address provider, uint256 draw) external view returns (uint256) {
        uint32 generation = _generations[provider];
        ProofSets.ProofSet storage set = _proofSets[provider][generation];
        (uint256 period, uint256 challenge) = _openPeriod(set, provider, generation);
        return _drawLeaf(blockhash(challenge), provider, period, draw, set.challengeLeaves(period));
    }

    /// @inheritdoc IStorageMarket
    function nextDealId() external view returns (uint256) {
        return _nextDealId;
    }
}
