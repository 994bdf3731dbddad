import { hashTypedData, type Address, type Hex, type TypedDataDomain } from "viem";
import type { LocalAccount } from "viem/accounts";
import type { ChainClients } from "../clients";
import {
  STORAGE_DEAL_ACCEPTANCE_TYPES,
  STORAGE_DEAL_PROPOSAL_TYPES,
  STORAGE_MARKET_DOMAIN,
  type StorageDealProposal,
} from "../eip712";

/** The EIP-712 domain of a StorageMarket deployment. */
export function storageMarketDomain(chainId: number, storageMarket: Address): TypedDataDomain {
  return { ...STORAGE_MARKET_DOMAIN, chainId, verifyingContract: storageMarket } as const;
}

/** The EIP-712 digest a client signs (equal to `StorageMarket.hashProposal`). */
export function hashProposal(chainId: number, storageMarket: Address, proposal: StorageDealProposal): Hex {
  return hashTypedData({
    domain: storageMarketDomain(chainId, storageMarket),
    types: STORAGE_DEAL_PROPOSAL_TYPES,
    primaryType: "StorageDealProposal",
    message: proposal,
  });
}

/** The client's EIP-712 signature of `proposal`. */
export async function signProposal(
  account: LocalAccount,
  chainId: number,
  storageMarket: Address,
  proposal: StorageDealProposal,
): Promise<Hex> {
  return account.signTypedData({
    domain: storageMarketDomain(chainId, storageMarket),
    types: STORAGE_DEAL_PROPOSAL_TYPES,
    primaryType: "StorageDealProposal",
    message: proposal,
  });
}

/**
 * The provider's EIP-712 `StorageDealAcceptance` signature of `proposal`: with it the client (or
 * anyone) may publish the deal in `publishStorageDeals` (seed 001 steps 2–3). A provider signs
 * once it holds the piece's bytes and has checked their CommP.
 */
export async function signAcceptance(
  account: LocalAccount,
  chainId: number,
  storageMarket: Address,
  proposal: StorageDealProposal,
): Promise<Hex> {
  return account.signTypedData({
    domain: storageMarketDomain(chainId, storageMarket),
    types: STORAGE_DEAL_ACCEPTANCE_TYPES,
    primaryType: "StorageDealAcceptance",
    message: { proposal },
  });
}

/**
 * Whether `signature` is `proposal.provider`'s acceptance of `proposal` (ECDSA, or ERC-1271 for a
 * contract provider), as StorageMarket checks it when someone other than the provider publishes.
 */
export function verifyAcceptanceSignature(
  c: Pick<ChainClients, "public">,
  storageMarket: Address,
  proposal: StorageDealProposal,
  signature: Hex,
): Promise<boolean> {
  return falseOnError(() =>
    c.public.verifyTypedData({
      address: proposal.provider,
      domain: storageMarketDomain(c.public.chain.id, storageMarket),
      types: STORAGE_DEAL_ACCEPTANCE_TYPES,
      primaryType: "StorageDealAcceptance",
      message: { proposal },
      signature,
    }),
  );
}

/**
 * Whether `signature` is the client's over `proposal`: ECDSA for EOAs, ERC-1271 for contract
 * clients (viem asks the contract), as StorageMarket will when publishing.
 */
export function verifyProposalSignature(
  c: Pick<ChainClients, "public">,
  storageMarket: Address,
  proposal: StorageDealProposal,
  signature: Hex,
): Promise<boolean> {
  return falseOnError(() =>
    c.public.verifyTypedData({
      address: proposal.client,
      domain: storageMarketDomain(c.public.chain.id, storageMarket),
      types: STORAGE_DEAL_PROPOSAL_TYPES,
      primaryType: "StorageDealProposal",
      message: proposal,
      signature,
    }),
  );
}

/** A malformed signature (or a contract signer that reverts) is simply not valid. */
async function falseOnError(check: () => Promise<boolean>): Promise<boolean> {
  try {
    return await check();
  } catch {
    return false;
  }
}
