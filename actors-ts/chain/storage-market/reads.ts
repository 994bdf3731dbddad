import type { Address, Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { DEAL_STATES, type DealStateName } from "../constants";
import type { StorageDealProposal } from "../eip712";

/** Views of StorageMarket that agents read (one read each; no transactions). */

type Reader = Pick<ChainClients, "public">;

/** Free and locked escrow of `account`, token base units. */
export async function escrowBalance(c: Reader, contracts: MarketContracts, account: Address) {
  const [free, locked] = await c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "balanceOf",
    args: [account],
  });
  return { free, locked };
}

/** A deal's state and placement; `stateName` is the DealState enum name. */
export async function dealInfo(c: Reader, contracts: MarketContracts, dealId: bigint) {
  const info = await c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "dealInfo",
    args: [dealId],
  });
  return { ...info, stateName: DEAL_STATES[info.state] as DealStateName };
}

/** The provider's current proof set. */
export async function proofSetInfo(c: Reader, contracts: MarketContracts, provider: Address) {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "proofSetInfo",
    args: [provider],
  });
}

/** The leaf drawn by `draw` for the provider's current period (at the latest block). */
export async function challengedLeaf(c: Reader, contracts: MarketContracts, provider: Address, draw: bigint) {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "challengedLeaf",
    args: [provider, draw],
  });
}

/** Free range `index` of size class `log2Leaves` and the class's length. */
export async function freeRange(
  c: Reader,
  contracts: MarketContracts,
  provider: Address,
  generation: number,
  log2Leaves: number,
  index: bigint,
) {
  const [startLeaf, count] = await c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "freeRange",
    args: [provider, generation, log2Leaves, index],
  });
  return { startLeaf, count };
}

/** The deployment's parameters. */
export async function marketParams(c: Reader, contracts: MarketContracts) {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "marketParams",
  });
}

/** The EIP-712 struct hash of a proposal ("terms hash"). */
export async function termsHash(c: Reader, contracts: MarketContracts, proposal: StorageDealProposal): Promise<Hex> {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "termsHash",
    args: [proposal],
  });
}

/** Whether `client` already used `nonce`. */
export async function isNonceUsed(c: Reader, contracts: MarketContracts, client: Address, nonce: bigint) {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "isNonceUsed",
    args: [client, nonce],
  });
}
