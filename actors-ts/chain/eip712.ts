/**
 * EIP-712 types of the messages clients sign, shared by agents (viem) and tests (ethers).
 * They must match the type strings hashed in the contracts (`DealProposals.TYPEHASH`).
 */

/** Domain name and version of `StorageMarket` (its `EIP712` constructor arguments). */
export const STORAGE_MARKET_DOMAIN = { name: "RepairMarket StorageMarket", version: "1" } as const;

/** `StorageDealProposal`, as signed by a storage client (seed 001). */
export const STORAGE_DEAL_PROPOSAL_TYPES = {
  StorageDealProposal: [
    { name: "pieceCid", type: "bytes32" },
    { name: "pieceSize", type: "uint64" },
    { name: "client", type: "address" },
    { name: "provider", type: "address" },
    { name: "label", type: "string" },
    { name: "startEpoch", type: "uint64" },
    { name: "endEpoch", type: "uint64" },
    { name: "storagePricePerEpoch", type: "uint256" },
    { name: "providerCollateral", type: "uint256" },
    { name: "clientCollateral", type: "uint256" },
    { name: "nonce", type: "uint256" },
  ],
} as const;

/** A storage deal proposal with JavaScript types (addresses and hashes as 0x strings). */
export interface StorageDealProposal {
  /** CommP root as 0x-prefixed 32-byte hex. */
  pieceCid: `0x${string}`;
  /** Padded piece size in bytes. */
  pieceSize: bigint;
  client: `0x${string}`;
  provider: `0x${string}`;
  label: string;
  /** Epoch (block number). */
  startEpoch: bigint;
  /** Epoch (block number), exclusive. */
  endEpoch: bigint;
  /** Token base units per epoch. */
  storagePricePerEpoch: bigint;
  /** Token base units. */
  providerCollateral: bigint;
  /** Token base units. */
  clientCollateral: bigint;
  nonce: bigint;
}
