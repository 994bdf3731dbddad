// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStorageMarket} from "../interfaces/IStorageMarket.sol";
import {StorageDealProposal, SignedStorageDealProposal, PieceProof, PublishResult} from "../types/StorageDealTypes.sol";
import {DealProposals} from "../libraries/DealProposals.sol";
import {DealRecords} from "../libraries/DealRecords.sol";
import {DataSets} from "../libraries/DataSets.sol";
import {PieceSizes} from "../libraries/PieceSizes.sol";
import {ProvenPeriods} from "../libraries/ProvenPeriods.sol";
import {Sha254MerkleProof} from "../libraries/Sha254MerkleProof.sol";
import {DealLedger} from "./DealLedger.sol";

/// @title StorageMarket
/// @notice The seed's StorageMarketActor (seed 001) with FilOz-PDP-style proofs of possession.
/// @dev Per deal the market stores two words at publish (a key binding the piece commitment to
/// the EIP-712 terms hash, and a packed record: data set, period added, piece index, size, end)
/// and one sum-tree node. Calls that need the terms take the proposal as calldata and check it
/// against the key; the full proposal is in `DealPublished`. A data set holds one (provider,
/// client) pair's deals and is proven on its own, so nothing a provider publishes for itself or
/// for another client changes what a client's proofs cover. Deal state is derived lazily from the
/// data set, so no call loops over deals and nothing runs on a schedule.
contract StorageMarket is DealLedger, EIP712 {
    using DataSets for DataSets.DataSet;
    using ProvenPeriods for mapping(uint256 => uint256);

    /// @dev Draws allowed per required challenge (draws landing in a piece whose deal closed
    /// during the open window are redrawn).
    uint256 private constant DRAWS_PER_CHALLENGE = 16;
    /// @dev Gas given to an ERC-1271 wallet's `isValidSignature` (a Safe with a few owners needs
    /// about 15,000–30,000).
    uint256 private constant ERC1271_GAS = 60_000;
    /// @dev Most leaves one data set holds (2^40 leaves = 32 TiB).
    uint256 private constant MAX_DATA_SET_LEAVES = 1 << 40;

    uint256 private _nextDealId = 1;
    mapping(address client => mapping(uint256 word => uint256)) private _nonceBitmaps;

    /// @notice Deploys the market for one token, with fixed parameters.
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
        uint256 dealId = _nextDealId;
        for (uint256 i; i < count; ++i) {
            PublishResult result = _publishOne(proposals[i], dealId);
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

    /// @dev The data set new deals of (provider, client) join: the pair's current one unless it
    /// failed (0 = a new one starts with this deal).
    function _dataSetForPublish(address provider, address client) private view returns (uint256 dataSetId) {
        dataSetId = _currentDataSet[provider][client];
        if (dataSetId != 0 && _dataSets[dataSetId].hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) {
            dataSetId = 0;
        }
    }

    /// @dev Publishes one item as deal `dealId`, or returns why it is skipped. The record packs the
    /// piece index in 40 bits (SafeCast); its log2Leaves ≤ 31 and payloadLeaves ≤ 2^31 casts are
    /// exact because `_checkTerms` bounds pieceSize by MAX_PIECE_SIZE.
    function _publishOne(SignedStorageDealProposal calldata item, uint256 dealId) private returns (PublishResult) {
        StorageDealProposal calldata p = item.proposal;
        (PublishResult result, uint256 log2Leaves, uint256 clientLock) = _checkTerms(p);
        if (result != PublishResult.None) return result;

        uint256 dataSetId = _dataSetForPublish(p.provider, p.client);
        DataSets.DataSet storage set = _dataSets[dataSetId];
        uint256 anchor = dataSetId == 0 ? block.number : set.anchorEpoch;
        uint256 addedPeriod = _periodForNewPiece(anchor);
        if (p.startEpoch < anchor + (addedPeriod + 1) * _provingPeriodEpochs) {
            return PublishResult.StartEpochTooSoon;
        }
        if (_balances[p.client].free < clientLock) return PublishResult.ClientBalanceTooLow;
        if (_balances[p.provider].free < p.providerCollateral) return PublishResult.ProviderBalanceTooLow;
        if (dataSetId != 0 && set.liveLeaves + PieceSizes.payloadLeaves(p.payloadSize) > MAX_DATA_SET_LEAVES) {
            return PublishResult.DataSetFull;
        }
        bytes32 terms = DealProposals.structHash(p);
        result = _checkSignatures(item, terms);
        if (result != PublishResult.None) return result;

        _useNonce(p.client, p.nonce);
        _lock(p.client, clientLock);
        _lock(p.provider, p.providerCollateral);
        if (dataSetId == 0) {
            dataSetId = _createDataSet(p.provider, p.client);
            set = _dataSets[dataSetId];
        } else {
            _applyPendingRemovals(dataSetId, set);
        }
        uint256 pieceIndex = set.appendPiece(
            _sumTrees[dataSetId],
            dealId,
            PieceSizes.payloadLeaves(p.payloadSize),
            _provingPeriodEpochs,
            _challengeWindowEpochs
        );
        _dealKeys[dealId] = DealProposals.dealKey(p.pieceCid, terms);
        _dealRecords[dealId] = DealRecords.pack(
            DealRecords.Record({
                dataSetId: SafeCast.toUint64(dataSetId),
                addedPeriod: SafeCast.toUint32(addedPeriod),
                pieceIndex: SafeCast.toUint40(pieceIndex),
                log2Leaves: uint8(log2Leaves),
                status: DealRecords.Status.Open,
                endEpoch: p.endEpoch,
                payloadLeaves: uint32(PieceSizes.payloadLeaves(p.payloadSize))
            })
        );
        emit DealPublished(dealId, p.client, p.provider, dataSetId, uint64(pieceIndex), p);
        return PublishResult.None;
    }

    function _createDataSet(address provider, address client) private returns (uint256 dataSetId) {
        dataSetId = _nextDataSetId++;
        DataSets.DataSet storage set = _dataSets[dataSetId];
        set.anchorEpoch = uint64(block.number);
        set.provider = provider;
        set.client = client;
        _currentDataSet[provider][client] = dataSetId;
        _providerDataSets[provider].push(dataSetId);
        emit DataSetCreated(dataSetId, provider, client, uint64(block.number));
    }

    /// @dev EIP-712 signature of `signer` over `digest`: ECDSA for keys, ERC-1271 for contracts
    /// with at most `ERC1271_GAS` gas and 32 bytes of return data read.
    /// @dev The client's signature over the terms, and the provider's acceptance unless the
    /// provider sends the batch (seed 001: either party may publish the signed deal).
    function _checkSignatures(
        SignedStorageDealProposal calldata item,
        bytes32 terms
    ) private view returns (PublishResult) {
        StorageDealProposal calldata p = item.proposal;
        if (!_isValidSignature(p.client, _hashTypedDataV4(terms), item.clientSignature)) {
            return PublishResult.InvalidSignature;
        }
        if (
            msg.sender != p.provider &&
            !_isValidSignature(
                p.provider,
                _hashTypedDataV4(DealProposals.acceptanceHash(terms)),
                item.providerSignature
            )
        ) return PublishResult.InvalidProviderSignature;
        return PublishResult.None;
    }

    function _isValidSignature(address signer, bytes32 digest, bytes calldata signature) private view returns (bool) {
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        if (signer.code.length == 0) return false;
        // 63/64 of what is left goes to the call: make sure that is the full stipend, so a
        // caller cannot starve a valid wallet signature into a skip.
        uint256 needed = (ERC1271_GAS * 64) / 63 + 5_000;
        if (gasleft() < needed) revert SignatureCheckNeedsGas(gasleft(), needed);
        bytes memory data = abi.encodeCall(IERC1271.isValidSignature, (digest, signature));
        bool ok;
        bytes32 answer;
        uint256 size;
        assembly ("memory-safe") {
            ok := staticcall(ERC1271_GAS, signer, add(data, 0x20), mload(data), 0x00, 0x20)
            size := returndatasize()
            answer := mload(0x00)
        }
        return ok && size >= 32 && answer == bytes32(IERC1271.isValidSignature.selector);
    }

    /// @dev Checks that need no data-set state. Returns the piece's log2 leaf count and what
    /// the client locks: storagePricePerEpoch · duration + clientCollateral.
    function _checkTerms(
        StorageDealProposal calldata p
    ) private view returns (PublishResult result, uint256 log2Leaves, uint256 clientLock) {
        if (p.pieceCid == bytes32(0)) return (PublishResult.InvalidPieceCid, 0, 0);
        uint256 size = p.pieceSize;
        if (!PieceSizes.isPieceSize(size) || size > PieceSizes.MAX_PIECE_SIZE) {
            return (PublishResult.InvalidPieceSize, 0, 0);
        }
        // The piece is the smallest power of two whose fr32 capacity holds the payload.
        (uint256 minPayload, uint256 maxPayload) = PieceSizes.minimalPayloadRange(size);
        if (p.payloadSize < minPayload || p.payloadSize > maxPayload) return (PublishResult.InvalidPayloadSize, 0, 0);
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
        // size is a power of two in [MIN_PIECE_SIZE, MAX_PIECE_SIZE]: leaves = size / LEAF_BYTES.
        while (size > PieceSizes.LEAF_BYTES) {
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

    function _useNonce(address client, uint256 nonce) private {
        _nonceBitmaps[client][nonce >> 8] |= uint256(1) << (nonce & 0xff);
    }

    // ------------------------------------------------------------------ renewal

    /// @inheritdoc IStorageMarket
    function extendStorageDeal(
        uint256 dealId,
        StorageDealProposal calldata current,
        uint64 newEndEpoch,
        uint256 newNonce,
        bytes calldata clientSignature
    ) external {
        DealRecords.Record memory record = _loadOpenDeal(dealId, current);
        DataSets.DataSet storage set = _dataSets[record.dataSetId];
        if (set.provider != msg.sender) revert NotDealProvider(dealId, msg.sender);
        if (block.number >= current.endEpoch) revert DealEnded(dealId, current.endEpoch);
        if (set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) revert DataSetHasFailed(record.dataSetId);
        if (newEndEpoch <= current.endEpoch || newEndEpoch - current.startEpoch > _maxDealDurationEpochs) {
            revert InvalidExtension(dealId);
        }
        address client = current.client;
        if (isNonceUsed(client, newNonce)) revert NonceAlreadyUsed(client, newNonce);
        // The client signs the whole extended proposal; only its end and nonce can differ, as
        // every other field is taken from the deal's own stored terms.
        bytes32 terms = DealProposals.structHash(current, newEndEpoch, newNonce);
        if (!_isValidSignature(client, _hashTypedDataV4(terms), clientSignature)) {
            revert InvalidClientSignature(dealId, client);
        }
        uint256 extra = current.storagePricePerEpoch * (newEndEpoch - current.endEpoch);
        uint256 free = _balances[client].free;
        if (free < extra) revert InsufficientBalance(client, free, extra);
        if (_balances[client].locked + extra > type(uint128).max) revert AmountTooLarge(extra);

        _useNonce(client, newNonce);
        _lock(client, extra);
        _dealKeys[dealId] = DealProposals.dealKey(current.pieceCid, terms);
        record.endEpoch = newEndEpoch;
        _dealRecords[dealId] = DealRecords.pack(record);
        emit DealExtended(dealId, current.endEpoch, newEndEpoch, extra, newNonce);
    }

    // ------------------------------------------------------------------ proofs

    /// @inheritdoc IStorageMarket
    function provePossession(uint256 dataSetId, PieceProof[] calldata proofs) external {
        DataSets.DataSet storage set = _dataSets[dataSetId];
        (uint256 period, uint256 challenge) = _openPeriod(set, dataSetId);
        if (set.provider != msg.sender) revert NotDataSetProvider(dataSetId, msg.sender);
        uint256 verified = _verifyAnswers(dataSetId, set, period, blockhash(challenge), proofs);

        _provenWords[dataSetId].markProven(period, set.provenPeriods);
        set.lastProvenPlusOne = SafeCast.toUint32(period + 1);
        ++set.provenPeriods;
        emit PossessionProven(dataSetId, msg.sender, uint32(period), verified);
        _applyPendingRemovals(dataSetId, set);
    }

    /// @dev Answers draws in order until c live leaves verified; returns c.
    function _verifyAnswers(
        uint256 dataSetId,
        DataSets.DataSet storage set,
        uint256 period,
        bytes32 seed,
        PieceProof[] calldata proofs
    ) private view returns (uint256 verified) {
        uint256 required = _challengesPerProof;
        uint256 maxDraws = required * DRAWS_PER_CHALLENGE;
        if (proofs.length > maxDraws) revert TooManyProofs(proofs.length, maxDraws);
        (uint256 pieces, uint256 leaves) = set.challengeRange(period);
        mapping(uint256 => uint256) storage tree = _sumTrees[dataSetId];
        uint256 answered;
        while (answered < proofs.length && verified < required) {
            uint256 leaf = _drawLeaf(seed, dataSetId, period, answered, leaves);
            (, uint256 dealId, uint256 offset) = DataSets.findPiece(tree, pieces, leaf);
            if (_checkAnswer(proofs[answered], answered, dealId, offset)) ++verified;
            ++answered;
        }
        if (answered != proofs.length) revert TooManyProofs(proofs.length, answered);
        if (verified < required) revert TooFewProofs(answered, verified, required);
    }

    /// @dev The current period of a live, unfailed set whose challenge epoch has passed.
    function _openPeriod(
        DataSets.DataSet storage set,
        uint256 dataSetId
    ) private view returns (uint256 period, uint256 challenge) {
        if (set.openPieces == 0) revert NoDataSet(dataSetId);
        period = set.currentPeriod(_provingPeriodEpochs);
        if (set.lastProvenPlusOne > period) revert PeriodAlreadyProven(dataSetId, uint32(period));
        if (set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) revert DataSetHasFailed(dataSetId);
        challenge = set.challengeEpoch(period, _provingPeriodEpochs, _challengeWindowEpochs);
        if (block.number <= challenge) revert ChallengeWindowNotOpen(dataSetId, block.number, uint64(challenge));
    }

    function _drawLeaf(
        bytes32 seed,
        uint256 dataSetId,
        uint256 period,
        uint256 draw,
        uint256 leaves
    ) private pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(seed, dataSetId, period, draw))) % leaves;
    }

    /// @dev Verifies one answer; true when it proved a leaf, false for the empty answer to a
    /// draw in a piece whose deal closed while the window was open.
    function _checkAnswer(
        PieceProof calldata answer,
        uint256 draw,
        uint256 dealId,
        uint256 offset
    ) private view returns (bool) {
        DealRecords.Record memory record = DealRecords.unpack(_dealRecords[dealId]);
        // A closed deal's piece is still in the tree only while its removal waits for this
        // window: a proof built before the close (with the path) and one built after (empty)
        // both stand, so a settle racing a pending proof never invalidates it.
        if (record.status != DealRecords.Status.Open && answer.siblings.length == 0) return false;
        if (answer.siblings.length != record.log2Leaves) revert InvalidMerkleProof(draw, dealId);
        bytes32 root = Sha254MerkleProof.processProof(answer.leaf, offset, answer.siblings);
        if (_dealKeys[dealId] != DealProposals.dealKey(root, answer.termsHash)) revert InvalidMerkleProof(draw, dealId);
        return true;
    }

    // ------------------------------------------------------------------ faults

    /// @inheritdoc IStorageMarket
    function declareFaults(uint256[] calldata dealIds, StorageDealProposal[] calldata proposals) external {
        if (dealIds.length != proposals.length) revert LengthMismatch(dealIds.length, proposals.length);
        for (uint256 i; i < dealIds.length; ++i) {
            uint256 dealId = dealIds[i];
            DealRecords.Record memory record = _loadOpenDeal(dealId, proposals[i]);
            DataSets.DataSet storage set = _dataSets[record.dataSetId];
            if (set.provider != msg.sender) revert NotDealProvider(dealId, msg.sender);
            if (set.hasFailed(_provingPeriodEpochs, _maxConsecutiveFaults)) revert DataSetHasFailed(record.dataSetId);
            uint256 period = set.currentPeriod(_provingPeriodEpochs);
            uint256 challenge = set.challengeEpoch(period, _provingPeriodEpochs, _challengeWindowEpochs);
            if (block.number > challenge) revert DeclarationTooLate(dealId, uint64(challenge), block.number);
            _settle(dealId, record, proposals[i], true);
        }
    }

    /// @inheritdoc IStorageMarket
    function reportFault(uint256 dataSetId) external {
        DataSets.DataSet storage set = _dataSets[dataSetId];
        if (set.openPieces == 0) revert NoDataSet(dataSetId);
        uint256 lastProvenPlusOne = set.lastProvenPlusOne;
        uint256 period = lastProvenPlusOne > set.lastReportedPlusOne ? lastProvenPlusOne : set.lastReportedPlusOne;
        uint256 streak = period - lastProvenPlusOne + 1;
        if (streak > _maxConsecutiveFaults) revert DataSetHasFailed(dataSetId);
        uint256 deadline = set.periodStart(period + 1, _provingPeriodEpochs) - 1;
        if (block.number <= deadline) revert NoFaultToReport(dataSetId, uint32(period), uint64(deadline));

        set.lastReportedPlusOne = SafeCast.toUint32(period + 1);
        address provider = set.provider;
        // A provider recording its own fault earns nothing from it.
        bool self = msg.sender == provider;
        uint256 bounty = self ? 0 : _payFromFreeCapped(provider, msg.sender, _faultReportBounty);
        emit FaultRecorded(dataSetId, provider, uint32(period), uint32(streak), msg.sender, bounty);
        if (streak == _maxConsecutiveFaults) {
            if (!self) set.failureReporter = msg.sender;
            emit DataSetFailed(dataSetId, provider, uint64(deadline + 1));
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
    function termsHash(StorageDealProposal calldata proposal) external pure returns (bytes32) {
        return DealProposals.structHash(proposal);
    }

    /// @inheritdoc IStorageMarket
    function isNonceUsed(address client, uint256 nonce) public view returns (bool) {
        return (_nonceBitmaps[client][nonce >> 8] >> (nonce & 0xff)) & 1 == 1;
    }

    /// @inheritdoc IStorageMarket
    function challengedPiece(
        uint256 dataSetId,
        uint256 draw
    ) external view returns (uint256 dealId, uint256 leafOffset, bool closed) {
        DataSets.DataSet storage set = _dataSets[dataSetId];
        (uint256 period, uint256 challenge) = _openPeriod(set, dataSetId);
        (uint256 pieces, uint256 leaves) = set.challengeRange(period);
        uint256 leaf = _drawLeaf(blockhash(challenge), dataSetId, period, draw, leaves);
        (, dealId, leafOffset) = DataSets.findPiece(_sumTrees[dataSetId], pieces, leaf);
        closed = DealRecords.unpack(_dealRecords[dealId]).status != DealRecords.Status.Open;
    }

    /// @inheritdoc IStorageMarket
    function nextDealId() external view returns (uint256) {
        return _nextDealId;
    }
}
