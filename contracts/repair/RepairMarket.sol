// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IRepairMarket} from "../interfaces/IRepairMarket.sol";
import {IStorageMarket} from "../interfaces/IStorageMarket.sol";
import {StorageDealProposal, DealState} from "../types/StorageDealTypes.sol";
import {RepairMiner, RepairAsk, Bid, RepairDeal, RepairDealState, PieceSlot} from "../types/RepairTypes.sol";
import {RepairLedger} from "./RepairLedger.sol";
import {RepairOrders} from "./RepairOrders.sol";

/// @title RepairMarket
/// @notice Seed 000's repair market: the piece half (placement, loss, repair, slashing,
/// earnings) on top of the order book in `RepairOrders`.
/// @dev A repair deal checks its pieces against StorageMarket: every assigned piece is a
/// StorageMarket deal whose client is the miner's worker and whose commitment is leaf `index` of
/// the droot the client committed to, so a repaired piece is verified on chain and no one has to
/// trust the repairer (DESIGN.md "Data root").
contract RepairMarket is RepairOrders {
    /// @notice Deploys the repair market on top of `market`, with fixed parameters.
    /// @param paymentToken The token of `market`; bids, pledges and earnings are paid in it.
    /// @param market StorageMarket holding the miners' storage deals.
    /// @param params See `IRepairMarket.RepairParams`.
    constructor(
        IERC20 paymentToken,
        IStorageMarket market,
        RepairParams memory params
    ) RepairLedger(paymentToken, market, params) EIP712("RepairMarket", "1") {}

    // ------------------------------------------------------------------ placement and repair

    /// @inheritdoc IRepairMarket
    function assignPiece(
        uint256 dealId,
        uint256 index,
        uint256 storageDealId,
        StorageDealProposal calldata storageProposal,
        bytes32[] calldata proof
    ) external {
        RepairDeal storage deal = _openDeal(dealId);
        _requireOperator(deal.minerId);
        PieceSlot storage slot = _slot(dealId, deal, index);
        if (slot.storageDealId != 0) revert PieceAlreadyAssigned(dealId, index);
        _checkPlacement(dealId, deal, index, storageDealId, storageProposal, proof);
        _occupy(dealId, slot, storageDealId, storageProposal.provider);
        ++deal.assigned;
        emit PieceAssigned(dealId, index, storageDealId, storageProposal.provider);
    }

    /// @inheritdoc IRepairMarket
    function extendRepairDeal(uint256 dealId, uint256 askId, uint64 extraEpochs) external nonReentrant {
        RepairDeal storage deal = _openDeal(dealId);
        // A repair window before the end at the latest: the miner needs that long to extend or
        // re-place every piece's storage deal before it expires.
        uint256 latest = deal.endEpoch - _repairWindowEpochs;
        if (block.number > latest) revert ExtensionTooLate(dealId, latest);
        if (deal.client != msg.sender) revert NotDealClient(dealId, msg.sender);
        RepairAsk storage ask = _asks[askId];
        if (!ask.active) revert AskNotActive(askId);
        if (block.number > ask.expiryEpoch) revert AskExpired(askId, ask.expiryEpoch);
        uint256 price = _bids[deal.bidId].pricePerBytePerEpoch;
        if (ask.minerId != deal.minerId || price < ask.pricePerBytePerEpoch || deal.size > ask.maxSize) {
            revert AskDoesNotCoverBid(askId, deal.bidId);
        }
        uint64 oldEnd = deal.endEpoch;
        uint256 newEnd = uint256(oldEnd) + extraEpochs;
        if (extraEpochs == 0 || newEnd - deal.startEpoch > _maxDealDurationEpochs) revert InvalidDuration(extraEpochs);
        // price < BID_PRICE_LIMIT (2^120), size and extraEpochs < 2^64: the product is < 2^248.
        uint256 received = _pull(price * deal.size * extraEpochs);
        // The earned share is amount · paidEpochs / (end − start): both grow by the same price ·
        // size per epoch, so what was earned so far is unchanged.
        deal.amount += received;
        deal.endEpoch = SafeCast.toUint64(newEnd);
        emit RepairDealExtended(dealId, askId, oldEnd, uint64(newEnd), received);
    }

    /// @inheritdoc IRepairMarket
    function reportPieceLoss(uint256 dealId, uint256 index) external {
        RepairDeal storage deal = _openDeal(dealId);
        _requireInTerm(dealId, deal);
        PieceSlot storage slot = _slot(dealId, deal, index);
        if (slot.storageDealId == 0) revert PieceNotAssigned(dealId, index);
        if (slot.lostAtEpoch != 0) revert PieceAlreadyLost(dealId, index);
        DealState state = _storageMarket.dealInfo(slot.storageDealId).state;
        // Expired within the repair deal's term: an extension the miner did not carry to the piece.
        if (state != DealState.Faulted && state != DealState.Terminated && state != DealState.Expired) {
            revert StorageDealHealthy(slot.storageDealId, uint8(state));
        }
        _accrue(deal);
        slot.lostAtEpoch = uint64(block.number);
        deal.lostBitmap |= uint256(1) << index;
        if (++deal.lost == 1) deal.oldestLossEpoch = uint64(block.number);
        emit PieceLost(dealId, index, slot.storageDealId, slot.provider, msg.sender);
        _payLossBounty(dealId, deal, index, slot);
        if (deal.lost > deal.codingParams.m) {
            (uint256 slashed, ) = _slash(deal.minerId, deal.client, (_dealPledge(deal) * _dataLossSlashBps) / BPS);
            uint256 refund = _finish(dealId, deal, RepairDealState.Lost);
            emit FileLost(dealId, deal.minerId, refund, slashed);
        }
    }

    /// @inheritdoc IRepairMarket
    function reassignPiece(
        uint256 dealId,
        uint256 index,
        uint256 newStorageDealId,
        StorageDealProposal calldata storageProposal,
        bytes32[] calldata proof
    ) external {
        RepairDeal storage deal = _openDeal(dealId);
        _requireOperator(deal.minerId);
        PieceSlot storage slot = _slot(dealId, deal, index);
        if (slot.lostAtEpoch == 0) revert PieceNotLost(dealId, index);
        --_providerPieces[dealId][slot.provider];
        _checkPlacement(dealId, deal, index, newStorageDealId, storageProposal, proof);
        uint256 oldStorageDealId = slot.storageDealId;
        _occupy(dealId, slot, newStorageDealId, storageProposal.provider);
        // The piece stays lost (and its window keeps running) until the new deal is proven.
        if (slot.confirmed) {
            slot.confirmed = false;
            --deal.confirmed;
        }
        emit PieceRepaired(dealId, index, oldStorageDealId, newStorageDealId, storageProposal.provider);
    }

    /// @inheritdoc IRepairMarket
    function confirmPiece(uint256 dealId, uint256 index) external {
        RepairDeal storage deal = _openDeal(dealId);
        _requireInTerm(dealId, deal);
        PieceSlot storage slot = _slot(dealId, deal, index);
        uint256 storageDealId = slot.storageDealId;
        if (storageDealId == 0) revert PieceNotAssigned(dealId, index);
        uint64 lostAt = slot.lostAtEpoch;
        if (slot.confirmed && lostAt == 0) revert PieceAlreadyConfirmed(dealId, index);
        DealState state = _storageMarket.dealInfo(storageDealId).state;
        if (state != DealState.Active) revert StorageDealNotProven(storageDealId, uint8(state));
        _accrue(deal);
        // Whatever was slashed (a missed placement, an unrepaired loss) ended here; the next
        // failure of this piece is slashable again.
        slot.slashed = false;
        if (!slot.confirmed) {
            slot.confirmed = true;
            ++deal.confirmed;
        }
        if (lostAt != 0) {
            slot.lostAtEpoch = 0;
            deal.lostBitmap &= ~(uint256(1) << index);
            if (--deal.lost == 0) deal.oldestLossEpoch = 0;
            else if (lostAt == deal.oldestLossEpoch) deal.oldestLossEpoch = _oldestLoss(dealId, deal);
        }
        emit PieceConfirmed(dealId, index, storageDealId, slot.provider, lostAt);
        if (
            deal.state == RepairDealState.Placing &&
            deal.confirmed == uint256(deal.codingParams.k) + deal.codingParams.m
        ) {
            deal.state = RepairDealState.Active;
            emit RepairDealActivated(dealId);
        }
    }

    /// @inheritdoc IRepairMarket
    function slashRepairMiner(uint256 dealId, uint256 index) external {
        RepairDeal storage deal = _openDeal(dealId);
        _requireInTerm(dealId, deal);
        PieceSlot storage slot = _slot(dealId, deal, index);
        bool unrepaired = slot.lostAtEpoch != 0 && block.number >= uint256(slot.lostAtEpoch) + _repairWindowEpochs;
        bool unplaced = !slot.confirmed && slot.lostAtEpoch == 0 && block.number >= deal.placementDeadline;
        if (slot.slashed || !(unrepaired || unplaced)) revert NothingToSlash(dealId, index);
        slot.slashed = true;
        (uint256 taken, uint256 bounty) = _slash(
            deal.minerId,
            deal.client,
            (_dealPledge(deal) * _lostPieceSlashBps) / BPS
        );
        emit RepairMinerSlashed(dealId, index, deal.minerId, taken, taken - bounty, bounty, msg.sender);
    }

    // ------------------------------------------------------------------ earnings

    /// @inheritdoc IRepairMarket
    function claimEarnings(uint256[] calldata dealIds) external returns (uint256[] memory amounts) {
        amounts = new uint256[](dealIds.length);
        for (uint256 i; i < dealIds.length; ++i) {
            uint256 dealId = dealIds[i];
            RepairDeal storage deal = _deals[dealId];
            if (deal.state == RepairDealState.None) revert DealNotFound(dealId);
            if (deal.state != RepairDealState.Placing && deal.state != RepairDealState.Active) continue;
            _accrue(deal);
            if (block.number >= deal.endEpoch) {
                uint256 before = deal.claimed;
                uint256 refund = _finish(dealId, deal, RepairDealState.Completed);
                amounts[i] = deal.claimed - before;
                emit RepairDealCompleted(dealId, deal.claimed, refund);
            } else {
                amounts[i] = _payEarnings(dealId, deal);
            }
        }
    }

    /// @inheritdoc IRepairMarket
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 available = _withdrawable[msg.sender];
        if (available < amount) revert InsufficientBalance(msg.sender, available, amount);
        _withdrawable[msg.sender] = available - amount;
        _push(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ------------------------------------------------------------------ checks

    function _openDeal(uint256 dealId) private view returns (RepairDeal storage deal) {
        deal = _deals[dealId];
        if (deal.state == RepairDealState.None) revert DealNotFound(dealId);
        if (deal.state != RepairDealState.Placing && deal.state != RepairDealState.Active) {
            revert DealNotOpen(dealId, deal.state);
        }
    }

    /// @dev From the end epoch on a deal can only be completed: its storage deals stop being
    /// proven then, and a loss or slash read from them would punish a file kept its whole term.
    function _requireInTerm(uint256 dealId, RepairDeal storage deal) private view {
        if (block.number >= deal.endEpoch) revert RepairDealEnded(dealId, deal.endEpoch);
    }

    function _slot(uint256 dealId, RepairDeal storage deal, uint256 index) private view returns (PieceSlot storage) {
        uint256 pieces = uint256(deal.codingParams.k) + deal.codingParams.m;
        if (index >= pieces) revert PieceIndexOutOfRange(dealId, index, pieces);
        return _pieces[dealId][index];
    }

    /// @dev Everything a storage deal must satisfy to hold piece `index` of the deal.
    function _checkPlacement(
        uint256 dealId,
        RepairDeal storage deal,
        uint256 index,
        uint256 storageDealId,
        StorageDealProposal calldata p,
        bytes32[] calldata proof
    ) private view {
        if (!_storageMarket.isDealProposal(storageDealId, p)) revert StorageDealMismatch(storageDealId);
        if (_storageDealUsed[storageDealId]) revert StorageDealAlreadyUsed(storageDealId);
        address worker = _miners[deal.minerId].worker;
        if (p.client != worker) revert StorageClientNotWorker(storageDealId, p.client, worker);
        if (p.endEpoch < deal.endEpoch) revert StorageDealTooShort(storageDealId, p.endEpoch, deal.endEpoch);
        if (p.pieceSize != deal.codingParams.pieceSize) {
            revert PieceSizeMismatch(storageDealId, p.pieceSize, deal.codingParams.pieceSize);
        }
        uint64 perPiece = deal.size / (uint64(deal.codingParams.k) + deal.codingParams.m);
        if (p.payloadSize != perPiece) revert PayloadSizeMismatch(storageDealId, p.payloadSize, perPiece);
        DealState state = _storageMarket.dealInfo(storageDealId).state;
        if (state == DealState.Terminated || state == DealState.Expired) {
            revert StorageDealNotLive(storageDealId, uint8(state));
        }
        if (!MerkleProof.verifyCalldata(proof, deal.droot, pieceLeaf(index, p.pieceCid, p.pieceSize))) {
            revert PieceNotInDroot(dealId, index, p.pieceCid);
        }
        if (_providerPieces[dealId][p.provider] != 0) revert ProviderAlreadyHoldsPiece(dealId, p.provider);
        string memory label = slotLabel(dealId, index);
        if (!Strings.equal(p.label, label)) revert StorageDealLabelMismatch(storageDealId, label);
    }

    function _occupy(uint256 dealId, PieceSlot storage slot, uint256 storageDealId, address provider) private {
        _storageDealUsed[storageDealId] = true;
        ++_providerPieces[dealId][provider];
        slot.storageDealId = storageDealId;
        slot.provider = provider;
    }

    /// @dev The first report of a loss of piece `index` earns the reporter `lossReportBountyBps`
    /// of the deal's pledge share, from the miner's pledge; later losses of the same piece earn
    /// nothing, so a miner paying its own sybil reporters can move at most n such bounties out of
    /// a deal's pledge, each for a real fault. The miner's owner or worker earns nothing
    /// (decision 25).
    function _payLossBounty(uint256 dealId, RepairDeal storage deal, uint256 index, PieceSlot storage slot) private {
        if (slot.lossBountyPaid) return;
        slot.lossBountyPaid = true;
        RepairMiner storage miner = _miners[deal.minerId];
        if (msg.sender == miner.owner || msg.sender == miner.worker) return;
        uint256 amount = (_dealPledge(deal) * _lossReportBountyBps) / BPS;
        if (amount > miner.pledge) amount = miner.pledge;
        if (amount == 0) return;
        miner.pledge -= amount;
        _credit(msg.sender, amount);
        emit LossReportBountyPaid(dealId, index, msg.sender, amount);
    }

    /// @dev Earliest loss among the lost pieces; bounded by MAX_PIECES iterations.
    function _oldestLoss(uint256 dealId, RepairDeal storage deal) private view returns (uint64 oldest) {
        uint256 bitmap = deal.lostBitmap;
        for (uint256 i; bitmap != 0; ++i) {
            if (bitmap & 1 == 1) {
                uint64 lostAt = _pieces[dealId][i].lostAtEpoch;
                if (oldest == 0 || lostAt < oldest) oldest = lostAt;
            }
            bitmap >>= 1;
        }
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IRepairMarket
    function pieceLeaf(uint256 index, bytes32 pieceCid, uint64 pieceSize) public pure returns (bytes32) {
        return keccak256(abi.encode(index, pieceCid, pieceSize));
    }

    /// @inheritdoc IRepairMarket
    function slotLabel(uint256 dealId, uint256 index) public view returns (string memory) {
        return
            string.concat(
                "repair-slot:",
                Strings.toHexString(address(this)),
                ":",
                Strings.toString(dealId),
                ":",
                Strings.toString(index)
            );
    }

    /// @inheritdoc IRepairMarket
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IRepairMarket
    function storageMarket() external view returns (IStorageMarket) {
        return _storageMarket;
    }

    /// @inheritdoc IRepairMarket
    function repairParams() external view returns (RepairParams memory) {
        // Each immutable was set from the field of the same width it is cast back to.
        return
            RepairParams({
                pledgePerByte: _pledgePerByte,
                placementWindowEpochs: uint64(_placementWindowEpochs),
                repairWindowEpochs: uint64(_repairWindowEpochs),
                lostPieceSlashBps: uint16(_lostPieceSlashBps),
                dataLossSlashBps: uint16(_dataLossSlashBps),
                slashBountyBps: uint16(_slashBountyBps),
                lossReportBountyBps: uint16(_lossReportBountyBps),
                maxDealDurationEpochs: uint64(_maxDealDurationEpochs)
            });
    }

    /// @inheritdoc IRepairMarket
    function getMiner(uint256 minerId) external view returns (RepairMiner memory) {
        return _miners[minerId];
    }

    /// @inheritdoc IRepairMarket
    function getAsk(uint256 askId) external view returns (RepairAsk memory) {
        return _asks[askId];
    }

    /// @inheritdoc IRepairMarket
    function getBid(uint256 bidId) external view returns (Bid memory) {
        return _bids[bidId];
    }

    /// @inheritdoc IRepairMarket
    function getDeal(uint256 dealId) external view returns (RepairDeal memory) {
        return _deals[dealId];
    }

    /// @inheritdoc IRepairMarket
    function pieceSlot(uint256 dealId, uint256 index) external view returns (PieceSlot memory) {
        return _pieces[dealId][index];
    }

    /// @inheritdoc IRepairMarket
    function lostPieces(uint256 dealId) external view returns (uint256) {
        return _deals[dealId].lostBitmap;
    }

    /// @inheritdoc IRepairMarket
    function balanceOf(address account) external view returns (uint256) {
        return _withdrawable[account];
    }

    /// @inheritdoc IRepairMarket
    function claimableEarnings(uint256 dealId) external view returns (uint256) {
        RepairDeal storage deal = _deals[dealId];
        if (deal.state != RepairDealState.Active && deal.state != RepairDealState.Placing) return 0;
        uint256 paid = deal.paidEpochs + _unaccruedPaidEpochs(deal, _accrualEnd(deal));
        return (deal.amount * paid) / (deal.endEpoch - deal.startEpoch) - deal.claimed;
    }
}
