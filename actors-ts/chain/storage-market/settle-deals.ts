import type { Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { CLOSE_REASONS } from "../constants";
import type { StorageDealProposal } from "../eip712";
import { sendContract } from "../send";

/** What settlement did to one deal. */
export interface SettledDeal {
  dealId: bigint;
  /** Token base units paid to the provider by this call. */
  payment: bigint;
  /** Set when the deal closed. */
  closed?: (typeof CLOSE_REASONS)[number];
}

/**
 * `StorageMarket.settleDeals`: pays providers for newly proven epochs and closes finished deals.
 *
 * @throws ContractRevertedError (DealNotOpen, DealKeyMismatch, …).
 */
export async function settleDeals(
  clients: ChainClients,
  contracts: MarketContracts,
  deals: { dealId: bigint; proposal: StorageDealProposal }[],
): Promise<{ hash: Hex; settled: SettledDeal[] }> {
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "settleDeals",
      args: [deals.map((d) => d.dealId), deals.map((d) => d.proposal)],
    },
    ["DealSettled", "DealClosed"],
  );
  const settled = new Map<bigint, SettledDeal>(deals.map((d) => [d.dealId, { dealId: d.dealId, payment: 0n }]));
  for (const e of sent.events) {
    const entry = settled.get(e.args.dealId ?? 0n);
    if (!entry) continue;
    if (e.eventName === "DealSettled") entry.payment += e.args.payment ?? 0n;
    if (e.eventName === "DealClosed") entry.closed = CLOSE_REASONS[Number(e.args.reason)];
  }
  return { hash: sent.hash, settled: [...settled.values()] };
}
