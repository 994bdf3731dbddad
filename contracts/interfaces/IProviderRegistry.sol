// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IProviderRegistry
/// @notice Where storage providers announce themselves: an HTTP endpoint and their asks
/// (DESIGN.md "ProviderRegistry"; seed 001 leaves asks as a TODO, Filecoin's StorageAsk fills it).
interface IProviderRegistry {
    /// @notice Terms for storage deals. Sizes are padded piece sizes in bytes.
    struct StorageAsk {
        /// @dev Token base units per padded byte per epoch.
        uint256 pricePerBytePerEpoch;
        /// @dev Smallest padded piece accepted, bytes (a power of two ≥ 128).
        uint64 minPieceSize;
        /// @dev Largest padded piece accepted, bytes (a power of two ≥ minPieceSize).
        uint64 maxPieceSize;
        /// @dev Provider collateral offered per padded byte, token base units.
        uint256 collateralPerByte;
    }

    /// @notice Terms for paid retrieval (Filecoin's retrieval ask).
    struct RetrievalAsk {
        /// @dev Token base units per byte sent.
        uint256 pricePerByte;
        /// @dev Bytes sent before the first voucher is due.
        uint64 paymentIntervalBytes;
        /// @dev Bytes by which each following interval grows.
        uint64 paymentIntervalIncreaseBytes;
    }

    /// @notice A registered provider.
    struct ProviderInfo {
        /// @dev Base URL of the provider daemon, e.g. "http://10.0.0.5:7001".
        string endpoint;
        StorageAsk storageAsk;
        RetrievalAsk retrievalAsk;
        /// @dev Epoch (block number) of registration; 0 when not registered.
        uint64 registeredAt;
    }

    /// @notice The caller is already registered.
    error AlreadyRegistered(address provider);
    /// @notice The provider is not registered.
    error NotRegistered(address provider);
    /// @notice The endpoint is empty or longer than 256 bytes.
    error InvalidEndpoint(uint256 length);
    /// @notice Piece sizes are not powers of two ≥ 128 with min ≤ max.
    error InvalidPieceSizeRange(uint64 minPieceSize, uint64 maxPieceSize);
    /// @notice A page was requested with a limit above 100.
    error PageTooLarge(uint256 limit);

    /// @notice `provider` registered at `endpoint`.
    /// @param provider The registering account.
    /// @param endpoint Its HTTP base URL.
    event ProviderRegistered(address indexed provider, string endpoint);
    /// @notice `provider` changed its endpoint or asks.
    /// @param provider The registered account.
    /// @param endpoint Its HTTP base URL after the update.
    event ProviderUpdated(address indexed provider, string endpoint);
    /// @notice `provider` left the registry.
    /// @param provider The account removed.
    event ProviderDeregistered(address indexed provider);

    /// @notice Registers the caller.
    /// @param endpoint HTTP base URL, 1..256 bytes.
    /// @param storageAsk Storage terms.
    /// @param retrievalAsk Retrieval terms.
    /// @custom:throws AlreadyRegistered, InvalidEndpoint, InvalidPieceSizeRange.
    function register(
        string calldata endpoint,
        StorageAsk calldata storageAsk,
        RetrievalAsk calldata retrievalAsk
    ) external;

    /// @notice Replaces the caller's endpoint and asks.
    /// @param endpoint HTTP base URL, 1..256 bytes.
    /// @param storageAsk Storage terms.
    /// @param retrievalAsk Retrieval terms.
    /// @custom:throws NotRegistered, InvalidEndpoint, InvalidPieceSizeRange.
    function update(
        string calldata endpoint,
        StorageAsk calldata storageAsk,
        RetrievalAsk calldata retrievalAsk
    ) external;

    /// @notice Removes the caller.
    /// @custom:throws NotRegistered.
    function deregister() external;

    /// @notice A provider's entry.
    /// @param provider Any account.
    /// @return The endpoint, asks and registration epoch (`registeredAt` = 0 when absent).
    function getProvider(address provider) external view returns (ProviderInfo memory);

    /// @notice Whether `provider` is registered.
    /// @param provider Any account.
    /// @return True while `provider` is registered.
    function isRegistered(address provider) external view returns (bool);

    /// @notice Number of registered providers.
    /// @return The count.
    function providerCount() external view returns (uint256);

    /// @notice Registered providers [offset, offset + limit), in no fixed order.
    /// @param offset Index of the first provider returned.
    /// @param limit At most 100.
    /// @return providers Up to `limit` addresses (fewer past the end).
    /// @custom:throws PageTooLarge.
    function listProviders(uint256 offset, uint256 limit) external view returns (address[] memory providers);
}
