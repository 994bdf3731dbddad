// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IRepairMarket} from "../interfaces/IRepairMarket.sol";
import {
    CodingParams,
    RepairMiner,
    RepairAsk,
    Bid,
    BidState,
    RepairDeal,
    RepairDealState
} from "../types/RepairTypes.sol";
import {PieceSizes} from "../libraries/PieceSizes.sol";
import {RepairLedger} from "./RepairLedger.sol";

/// @title RepairOrders
/// @notice The order book half of `RepairMarket` (seed 000 "Market Flow (with repair)"): repair
/// miners and their pledge, asks, funded bids, and `addDeal`.
abstract contract RepairOrders is RepairLedger, EIP712 {
    /// @notice EIP-712 type of the client's consent to one miner taking one bid with one ask.
    bytes32 public constant DEAL_AUTHORIZATION_TYPEHASH = keccak256(
        "RepairDealAuthorization(uint256 bidId,uint256 askId,uint256 minerId,uint64 deadline)"
    );

    /// @notice EIP-712 type of a worker's consent to serve a miner owned by `owner`.
    bytes32 public constant WORKER_CONSENT_TYPEHASH = keccak256("RepairMinerConsent(address owner,address worker)");

    uint256 private constant MAX_ENDPOINT_LENGTH = 256;
    /// @dev Bid prices (token base units per byte per epoch) must stay below 2^120 (else
    /// `AmountTooLarge`), so that price · size · duration cannot overflow.
    uint256 private constant BID_PRICE_LIMIT = 1 << 120;

    mapping(address worker => uint256 minerId) private _minerOfWorker;

    // ------------------------------------------------------------------ miners

    /// @inheritdoc IRepairMarket
    function createRepairMiner(
        address worker,
        uint256 pledge,
        string calldata endpoint,
        bytes calldata workerSignature
    ) external nonReentrant returns (uint256 minerId) {
        _checkEndpoint(endpoint);
        uint256 existing = _minerOfWorker[worker];
        if (existing != 0) revert WorkerHasMiner(worker, existing);
        if (
            msg.sender != worker &&
            !SignatureChecker.isValidSignatureNow(worker, hashWorkerConsent(msg.sender, worker), workerSignature)
        ) revert InvalidWorkerConsent(worker);
        uint256 received = pledge == 0 ? 0 : _pull(pledge);
        minerId = _nextMinerId++;
        _minerOfWorker[worker] = minerId;
        _miners[minerId] = RepairMiner({
            owner: msg.sender,
            worker: worker,
            pledge: received,
            powerBytes: 0,
            endpoint: endpoint
        });
        emit RepairMinerCreated(minerId, msg.sender, worker, received, endpoint);
    }

    /// @inheritdoc IRepairMarket
    function addPledge(uint256 minerId, uint256 amount) external nonReentrant {
        if (_miners[minerId].owner == address(0)) revert MinerNotFound(minerId);
        uint256 received = _pull(amount);
        _miners[minerId].pledge += received;
        emit PledgeAdded(minerId, received);
    }

    /// @inheritdoc IRepairMarket
    function withdrawPledge(uint256 minerId, uint256 amount) external nonReentrant {
        RepairMiner storage miner = _miners[minerId];
        if (miner.owner != msg.sender) revert NotMinerOwner(minerId, msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 required = miner.powerBytes * _pledgePerByte + amount;
        if (miner.pledge < required) revert InsufficientPledge(minerId, miner.pledge, required);
        miner.pledge -= amount;
        _push(msg.sender, amount);
        emit PledgeWithdrawn(minerId, amount);
    }

    /// @inheritdoc IRepairMarket
    function setMinerEndpoint(uint256 minerId, string calldata endpoint) external {
        if (_miners[minerId].owner != msg.sender) revert NotMinerOwner(minerId, msg.sender);
        _checkEndpoint(endpoint);
        _miners[minerId].endpoint = endpoint;
        emit MinerEndpointUpdated(minerId, endpoint);
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint(length);
    }

    // ------------------------------------------------------------------ asks and bids

    /// @inheritdoc IRepairMarket
    function addRepairAsk(
        uint256 minerId,
        uint256 pricePerBytePerEpoch,
        uint64 maxSize,
        uint64 expiryEpoch
    ) external returns (uint256 askId) {
        _requireOperator(minerId);
        if (expiryEpoch <= block.number) revert InvalidExpiry(expiryEpoch);
        askId = _nextAskId++;
        _asks[askId] = RepairAsk({
            minerId: minerId,
            pricePerBytePerEpoch: pricePerBytePerEpoch,
            maxSize: maxSize,
            expiryEpoch: expiryEpoch,
            active: true
        });
        _latestAskOf[minerId] = askId;
        emit RepairAskAdded(askId, minerId, pricePerBytePerEpoch, maxSize, expiryEpoch);
    }

    /// @inheritdoc IRepairMarket
    function cancelRepairAsk(uint256 askId) external {
        RepairAsk storage ask = _asks[askId];
        if (ask.minerId == 0) revert AskNotFound(askId);
        _requireOperator(ask.minerId);
        if (!ask.active) revert AskNotActive(askId);
        ask.active = false;
        emit RepairAskCancelled(askId);
    }

    /// @dev A bid pays for what is stored: `size` is the pieces' payload bytes, (k + m) times one
    /// piece's, and `pieceSize` is the smallest power of two whose fr32 capacity (127/128 of it)
    /// holds a piece (`PieceSizes.minimalPayloadRange`, the storage market's rule; issue "pay for,
    /// and challenge, what is stored"). Padding is not paid for.
    function _checkBidSize(uint64 size, uint256 pieces, uint64 pieceSize) private pure {
        (uint256 minPayload, uint256 maxPayload) = PieceSizes.minimalPayloadRange(pieceSize);
        uint256 perPiece = size / pieces;
        if (perPiece * pieces != size || perPiece < minPayload || perPiece > maxPayload) {
            revert InvalidBidSize(size, pieces * minPayload, pieces * maxPayload);
        }
    }

    /// @notice Whether (scheme, d) names a code for k of `pieces` pieces: Reed–Solomon (0) with
    /// d = 0, or Clay (1) with k ≤ d ≤ pieces − 1.
    /// @param scheme `CodingParams.scheme`.
    /// @param d `CodingParams.d`, helpers of a single-piece Clay repair.
    /// @param k Data pieces.
    /// @param pieces k + m.
    /// @return valid True when the pair is one of those.
    function _validScheme(uint8 scheme, uint8 d, uint8 k, uint256 pieces) private pure returns (bool valid) {
        if (scheme == CODING_REED_SOLOMON) return d == 0;
        return scheme == CODING_CLAY && d >= k && d < pieces;
    }

    /// @inheritdoc IRepairMarket
    function addBid(
        bytes32 droot,
        uint256 pricePerBytePerEpoch,
        uint64 size,
        uint64 durationEpochs,
        uint64 expiryEpoch,
        CodingParams calldata codingParams
    ) external nonReentrant returns (uint256 bidId) {
        uint256 pieces = uint256(codingParams.k) + codingParams.m;
        uint64 pieceSize = codingParams.pieceSize;
        if (
            codingParams.k == 0 ||
            codingParams.m == 0 ||
            pieces > MAX_PIECES ||
            !PieceSizes.isPieceSize(pieceSize) ||
            !_validScheme(codingParams.scheme, codingParams.d, codingParams.k, pieces)
        ) {
            revert InvalidCodingParams(codingParams.k, codingParams.m, pieceSize, codingParams.scheme, codingParams.d);
        }
        _checkBidSize(size, pieces, pieceSize);
        if (durationEpochs == 0 || durationEpochs > _maxDealDurationEpochs) revert InvalidDuration(durationEpochs);
        if (expiryEpoch <= block.number) revert InvalidExpiry(expiryEpoch);
        // size < 2^64 and duration < 2^64: a price below BID_PRICE_LIMIT keeps the product < 2^248.
        if (pricePerBytePerEpoch >= BID_PRICE_LIMIT) revert AmountTooLarge(pricePerBytePerEpoch);
        uint256 amount = pricePerBytePerEpoch * size * durationEpochs;
        uint256 received = _pull(amount);
        bidId = _nextBidId++;
        _bids[bidId] = Bid({
            client: msg.sender,
            droot: droot,
            pricePerBytePerEpoch: pricePerBytePerEpoch,
            size: size,
            durationEpochs: durationEpochs,
            expiryEpoch: expiryEpoch,
            codingParams: codingParams,
            amount: received,
            state: BidState.Open
        });
        emit BidAdded(
            bidId,
            msg.sender,
            droot,
            pricePerBytePerEpoch,
            size,
            durationEpochs,
            expiryEpoch,
            codingParams,
            received
        );
    }

    /// @inheritdoc IRepairMarket
    function cancelBid(uint256 bidId) external {
        Bid storage bid = _openBid(bidId);
        if (bid.client != msg.sender) revert NotBidClient(bidId, msg.sender);
        bid.state = BidState.Cancelled;
        _credit(bid.client, bid.amount);
        emit BidCancelled(bidId, bid.amount);
    }

    /// @inheritdoc IRepairMarket
    function releaseExpiredBid(uint256 bidId) external {
        Bid storage bid = _openBid(bidId);
        if (block.number <= bid.expiryEpoch) revert BidNotExpired(bidId, bid.expiryEpoch);
        bid.state = BidState.Released;
        _credit(bid.client, bid.amount);
        emit BidReleased(bidId, bid.amount);
    }

    function _openBid(uint256 bidId) private view returns (Bid storage bid) {
        bid = _bids[bidId];
        if (bid.state == BidState.None) revert BidNotFound(bidId);
        if (bid.state != BidState.Open) revert BidNotOpen(bidId, bid.state);
    }

    // ------------------------------------------------------------------ deals

    /// @inheritdoc IRepairMarket
    function addDeal(
        uint256 askId,
        uint256 bidId,
        uint64 deadline,
        bytes calldata clientSignature
    ) external returns (uint256 dealId) {
        uint256 minerId = _authorizeDeal(askId, bidId, deadline, clientSignature);
        dealId = _createDeal(askId, bidId, minerId);
    }

    /// @dev Checks the ask, the bid, the client's signature and the miner's pledge; returns the
    /// miner taking the bid.
    function _authorizeDeal(
        uint256 askId,
        uint256 bidId,
        uint64 deadline,
        bytes calldata clientSignature
    ) private view returns (uint256 minerId) {
        RepairAsk storage ask = _asks[askId];
        minerId = ask.minerId;
        if (minerId == 0) revert AskNotFound(askId);
        _requireOperator(minerId);
        if (!ask.active) revert AskNotActive(askId);
        if (block.number > ask.expiryEpoch) revert AskExpired(askId, ask.expiryEpoch);
        Bid storage bid = _openBid(bidId);
        if (block.number > bid.expiryEpoch) revert BidExpired(bidId, bid.expiryEpoch);
        if (bid.pricePerBytePerEpoch < ask.pricePerBytePerEpoch || bid.size > ask.maxSize) {
            revert AskDoesNotCoverBid(askId, bidId);
        }
        if (block.number > deadline) revert AuthorizationExpired(deadline, block.number);
        bytes32 digest = hashDealAuthorization(bidId, askId, minerId, deadline);
        if (!SignatureChecker.isValidSignatureNow(bid.client, digest, clientSignature)) {
            revert InvalidClientSignature(bidId, bid.client);
        }
        RepairMiner storage miner = _miners[minerId];
        uint256 required = (miner.powerBytes + bid.size) * _pledgePerByte;
        if (miner.pledge < required) revert InsufficientPledge(minerId, miner.pledge, required);
    }

    function _createDeal(uint256 askId, uint256 bidId, uint256 minerId) private returns (uint256 dealId) {
        Bid storage bid = _bids[bidId];
        bid.state = BidState.Taken;
        _miners[minerId].powerBytes += bid.size;
        dealId = _nextDealId++;
        RepairDeal storage deal = _deals[dealId];
        deal.bidId = bidId;
        deal.minerId = minerId;
        deal.client = bid.client;
        deal.droot = bid.droot;
        deal.codingParams = bid.codingParams;
        deal.size = bid.size;
        deal.startEpoch = uint64(block.number);
        deal.endEpoch = SafeCast.toUint64(block.number + bid.durationEpochs);
        deal.placementDeadline = SafeCast.toUint64(block.number + _placementWindowEpochs);
        deal.state = RepairDealState.Placing;
        deal.accruedUpTo = uint64(block.number);
        deal.amount = bid.amount;
        _dealsOfDroot[bid.droot].push(dealId);
        _dealsOfMiner[minerId].push(dealId);
        emit RepairDealCreated(
            dealId,
            bidId,
            minerId,
            askId,
            bid.client,
            bid.droot,
            deal.endEpoch,
            deal.placementDeadline
        );
    }

    /// @inheritdoc IRepairMarket
    function minerOfWorker(address worker) external view returns (uint256) {
        return _minerOfWorker[worker];
    }

    /// @inheritdoc IRepairMarket
    function latestAskOf(uint256 minerId) external view returns (uint256) {
        return _latestAskOf[minerId];
    }

    /// @inheritdoc IRepairMarket
    function dealsOfDroot(
        bytes32 droot,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256 total, uint256[] memory dealIds) {
        return _page(_dealsOfDroot[droot], offset, limit);
    }

    /// @inheritdoc IRepairMarket
    function dealsOfMiner(
        uint256 minerId,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256 total, uint256[] memory dealIds) {
        return _page(_dealsOfMiner[minerId], offset, limit);
    }

    /// @dev `all[offset … min(offset + limit, length) − 1]` and `all.length`.
    function _page(
        uint256[] storage all,
        uint256 offset,
        uint256 limit
    ) private view returns (uint256 total, uint256[] memory page) {
        total = all.length;
        uint256 end = offset < total ? (limit < total - offset ? offset + limit : total) : offset;
        page = new uint256[](end - offset);
        for (uint256 i = offset; i < end; ++i) page[i - offset] = all[i];
    }

    /// @inheritdoc IRepairMarket
    function counts() external view returns (uint256 miners, uint256 asks, uint256 bids, uint256 deals) {
        return (_nextMinerId - 1, _nextAskId - 1, _nextBidId - 1, _nextDealId - 1);
    }

    /// @inheritdoc IRepairMarket
    function hashWorkerConsent(address owner, address worker) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(WORKER_CONSENT_TYPEHASH, owner, worker)));
    }

    /// @inheritdoc IRepairMarket
    function hashDealAuthorization(
        uint256 bidId,
        uint256 askId,
        uint256 minerId,
        uint64 deadline
    ) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEAL_AUTHORIZATION_TYPEHASH, bidId, askId, minerId, deadline)));
    }
}
