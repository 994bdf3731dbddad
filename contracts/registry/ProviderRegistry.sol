// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {PieceSizes} from "../libraries/PieceSizes.sol";

/// @title ProviderRegistry
/// @notice Providers' endpoints and asks, enumerable in pages.
contract ProviderRegistry is IProviderRegistry {
    uint256 private constant MAX_ENDPOINT_LENGTH = 256;
    uint256 private constant MAX_PAGE = 100;

    mapping(address provider => ProviderInfo) private _providers;
    address[] private _providerList;
    /// @dev Position in `_providerList` + 1; 0 when absent.
    mapping(address provider => uint256 positionPlusOne) private _positions;

    /// @inheritdoc IProviderRegistry
    function register(
        string calldata endpoint,
        StorageAsk calldata storageAsk,
        RetrievalAsk calldata retrievalAsk
    ) external {
        if (_positions[msg.sender] != 0) revert AlreadyRegistered(msg.sender);
        _write(endpoint, storageAsk, retrievalAsk);
        _providers[msg.sender].registeredAt = uint64(block.number);
        _providerList.push(msg.sender);
        _positions[msg.sender] = _providerList.length;
        emit ProviderRegistered(msg.sender, endpoint);
    }

    /// @inheritdoc IProviderRegistry
    function update(
        string calldata endpoint,
        StorageAsk calldata storageAsk,
        RetrievalAsk calldata retrievalAsk
    ) external {
        if (_positions[msg.sender] == 0) revert NotRegistered(msg.sender);
        _write(endpoint, storageAsk, retrievalAsk);
        emit ProviderUpdated(msg.sender, endpoint);
    }

    /// @inheritdoc IProviderRegistry
    function deregister() external {
        uint256 positionPlusOne = _positions[msg.sender];
        if (positionPlusOne == 0) revert NotRegistered(msg.sender);
        address last = _providerList[_providerList.length - 1];
        _providerList[positionPlusOne - 1] = last;
        _positions[last] = positionPlusOne;
        _providerList.pop();
        delete _positions[msg.sender];
        delete _providers[msg.sender];
        emit ProviderDeregistered(msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function getProvider(address provider) external view returns (ProviderInfo memory) {
        return _providers[provider];
    }

    /// @inheritdoc IProviderRegistry
    function isRegistered(address provider) external view returns (bool) {
        return _positions[provider] != 0;
    }

    /// @inheritdoc IProviderRegistry
    function providerCount() external view returns (uint256) {
        return _providerList.length;
    }

    /// @inheritdoc IProviderRegistry
    function listProviders(uint256 offset, uint256 limit) external view returns (address[] memory providers) {
        if (limit > MAX_PAGE) revert PageTooLarge(limit);
        uint256 total = _providerList.length;
        if (offset >= total) return new address[](0);
        uint256 end = offset + limit > total ? total : offset + limit;
        providers = new address[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            providers[i - offset] = _providerList[i];
        }
    }

    function _write(
        string calldata endpoint,
        StorageAsk calldata storageAsk,
        RetrievalAsk calldata retrievalAsk
    ) private {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint(length);
        uint64 minSize = storageAsk.minPieceSize;
        uint64 maxSize = storageAsk.maxPieceSize;
        if (!PieceSizes.isPieceSize(minSize) || minSize > maxSize || !PieceSizes.isPieceSize(maxSize)) {
            revert InvalidPieceSizeRange(minSize, maxSize);
        }
        ProviderInfo storage info = _providers[msg.sender];
        info.endpoint = endpoint;
        info.storageAsk = storageAsk;
        info.retrievalAsk = retrievalAsk;
    }
}
