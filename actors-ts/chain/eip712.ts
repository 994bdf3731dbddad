/**
 * EIP-712 types of the messages agents sign, shared by agents (viem) and tests (ethers). The field
 * lists and struct shapes are generated on every compile from the type strings the contracts hash
 * (`DealProposals.TYPEHASH`, `PaymentChannels.VOUCHER_TYPEHASH`, …; see generated/types.ts), so
 * they cannot drift from the contracts; the domains are written here.
 */

import {
  repairDealAuthorizationTypes,
  repairMinerConsentTypes,
  storageDealAcceptanceTypes,
  storageDealProposalTypes,
  voucherTypes,
  type StorageDealProposal as StorageDealProposalStruct,
  type Voucher as VoucherStruct,
} from "./generated/types";

/** Domain name and version of `StorageMarket` (its `EIP712` constructor arguments). */
export const STORAGE_MARKET_DOMAIN = { name: "RepairMarket StorageMarket", version: "1" } as const;

/** `StorageDealProposal`, as signed by a storage client (seed 001). */
export const STORAGE_DEAL_PROPOSAL_TYPES = storageDealProposalTypes;

/**
 * `StorageDealAcceptance`, as signed by a provider that accepts a proposal (seed 001's signed
 * StorageDeal; `DealProposals.ACCEPTANCE_TYPEHASH`): with it the client, or anyone, may publish
 * the deal.
 */
export const STORAGE_DEAL_ACCEPTANCE_TYPES = storageDealAcceptanceTypes;

/** A storage deal proposal with JavaScript types (addresses and hashes as 0x strings). */
export type StorageDealProposal = StorageDealProposalStruct;

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
export const VOUCHER_TYPES = voucherTypes;

/** A payment-channel voucher with JavaScript types. */
export type Voucher = VoucherStruct;

/** Domain name and version of `RepairMarket`. */
export const REPAIR_MARKET_DOMAIN = { name: "RepairMarket", version: "1" } as const;

/** `RepairDealAuthorization`: a client's consent to one miner taking one bid with one ask. */
export const REPAIR_DEAL_AUTHORIZATION_TYPES = repairDealAuthorizationTypes;

/** EIP-712 type of a worker's consent to serve a repair miner owned by `owner` (RepairMarket). */
export const REPAIR_MINER_CONSENT_TYPES = repairMinerConsentTypes;
