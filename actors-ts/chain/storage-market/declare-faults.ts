import type { Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { StorageDealProposal } from "../eip712";
import { sendContract } from "../send";

/**
 * `StorageMarket.declareFaults`: the provider declares the pieces of these deals lost (before the
 * current challenge epoch); each deal closes with the declared-fault penalty.
 *
 * @throws ContractRevertedError (DeclarationTooLate, DealNotOpen, …).
 */
export async function declareFaults(
  clients: ChainClients,
  contracts: MarketContracts,
  deals: { dealId: bigint; proposal: StorageDealProposal }[],
): Promise<Hex> {
  const sent = await sendContract(clients, {
    contract: "StorageMarket",
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "declareFaults",
    args: [deals.map((d) => d.dealId), deals.map((d) => d.proposal)],
  });
  return sent.hash;
}
