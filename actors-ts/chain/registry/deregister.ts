import type { Hex } from "viem";
import { providerRegistryAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";

/** `ProviderRegistry.deregister`. @throws ContractRevertedError (NotRegistered). */
export async function deregisterProvider(clients: ChainClients, contracts: MarketContracts): Promise<Hex> {
  const sent = await sendContract(clients, {
    contract: "ProviderRegistry",
    address: contracts.registry,
    abi: providerRegistryAbi,
    functionName: "deregister",
    args: [],
  });
  return sent.hash;
}
