import type { Hex } from "viem";
import { providerRegistryAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";
import type { ProviderAsks } from "./reads";

/**
 * `ProviderRegistry.register` (or `update` when the account is already registered): publishes
 * the provider's endpoint and asks.
 *
 * @throws ContractRevertedError (InvalidEndpoint, InvalidPieceSizeRange).
 */
export async function registerProvider(
  clients: ChainClients,
  contracts: MarketContracts,
  endpoint: string,
  asks: ProviderAsks,
): Promise<{ hash: Hex; updated: boolean }> {
  const registered = await clients.public.readContract({
    address: contracts.registry,
    abi: providerRegistryAbi,
    functionName: "isRegistered",
    args: [clients.account.address],
  });
  const sent = await sendContract(clients, {
    contract: "ProviderRegistry",
    address: contracts.registry,
    abi: providerRegistryAbi,
    functionName: registered ? "update" : "register",
    args: [endpoint, asks.storageAsk, asks.retrievalAsk],
  });
  return { hash: sent.hash, updated: registered };
}
