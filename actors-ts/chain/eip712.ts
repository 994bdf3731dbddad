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
    { name: "payloadSize", type: "uint64" },
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

/**
 * `StorageDealAcceptance`, as signed by a provider that accepts a proposal (seed 001's signed
 * StorageDeal; `DealProposals.ACCEPTANCE_TYPEHASH`): with it the client, or anyone, may publish
 * the deal.
 */
export const STORAGE_DEAL_ACCEPTANCE_TYPES = {
  StorageDealAcceptance: [{ name: "proposal", type: "StorageDealProposal" }],
  ...STORAGE_DEAL_PROPOSAL_TYPES,
} as const;

/** A storage deal proposal with JavaScript types (addresses and hashes as 0x strings). */
export type StorageDealProposal = {
  /** CommP root as 0x-prefixed 32-byte hex. */
  pieceCid: `0x${string}`;
  /** Padded piece size in bytes (a power of two, ≥ 128). */
  pieceSize: bigint;
  /**
   * Client bytes in the piece before fr32 padding (FRC-0069's payload), in
   * (pieceSize/2 · 127/128, pieceSize · 127/128]: challenges fall only on the leaves holding it.
   */
  payloadSize: bigint;
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
};

/**
 * Reads back a proposal stored as JSON with its integers as decimal strings (as `stringifyJson`
 * writes it): the one decoder the agents' databases share.
 */
export function proposalFromJson(raw: Record<string, string>): StorageDealProposal {
  return {
    pieceCid: raw.pieceCid as `0x${string}`,
    pieceSize: BigInt(raw.pieceSize),
    payloadSize: BigInt(raw.payloadSize),
    client: raw.client as `0x${string}`,
    provider: raw.provider as `0x${string}`,
    label: raw.label,
    startEpoch: BigInt(raw.startEpoch),
    endEpoch: BigInt(raw.endEpoch),
    storagePricePerEpoch: BigInt(raw.storagePricePerEpoch),
    providerCollateral: BigInt(raw.providerCollateral),
    clientCollateral: BigInt(raw.clientCollateral),
    nonce: BigInt(raw.nonce),
  };
}

/** Domain name and version of `PaymentChannels`. */
export const PAYMENT_CHANNELS_DOMAIN = { name: "RepairMarket PaymentChannels", version: "1" } as const;

/** `Voucher`, as signed by a channel's payer (Filecoin's SignedVoucher). */
export const VOUCHER_TYPES = {
  Voucher: [
    { name: "channelId", type: "uint256" },
    { name: "lane", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "amount", type: "uint256" },
    { name: "timeLockMin", type: "uint64" },
    { name: "timeLockMax", type: "uint64" },
    { name: "secretHash", type: "bytes32" },
    { name: "minSettleEpoch", type: "uint64" },
  ],
} as const;

/** A payment-channel voucher with JavaScript types. */
export type Voucher = {
  channelId: bigint;
  lane: bigint;
  nonce: bigint;
  /** Cumulative token base units owed on the lane. */
  amount: bigint;
  /** Epoch; 0 for none. */
  timeLockMin: bigint;
  /** Epoch; 0 for none. */
  timeLockMax: bigint;
  /** keccak256 of a secret, 0x00…00 for none. */
  secretHash: `0x${string}`;
  /** Epoch; 0 for none. */
  minSettleEpoch: bigint;
};

/** Domain name and version of `RepairMarket`. */
export const REPAIR_MARKET_DOMAIN = { name: "RepairMarket", version: "1" } as const;

/** `RepairDealAuthorization`: a client's consent to one miner taking one bid with one ask. */
export const REPAIR_DEAL_AUTHORIZATION_TYPES = {
  RepairDealAuthorization: [
    { name: "bidId", type: "uint256" },
    { name: "askId", type: "uint256" },
    { name: "minerId", type: "uint256" },
    { name: "deadline", type: "uint64" },
  ],
} as const;

/** EIP-712 type of a worker's consent to serve a repair miner owned by `owner` (RepairMarket). */
export const REPAIR_MINER_CONSENT_TYPES = {
  RepairMinerConsent: [
    { name: "owner", type: "address" },
    { name: "worker", type: "address" },
  ],
} as const;
