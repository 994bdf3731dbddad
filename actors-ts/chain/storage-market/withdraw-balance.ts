import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";

/**
 * `StorageMarket.withdrawBalance`: sends `amount` of the account's free escrow back to it.
 *
 * @throws ContractRevertedError (ZeroAmount, InsufficientBalance).
 */
export async function withdrawBalance(
  clients: ChainClients,
  contracts: MarketContracts,
  amount: bigint,
): Promise<`0x${string}`> {
  const sent = await sendContract(clients, {
    contract: "StorageMarket",
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "withdrawBalance",
    args: [amount],
  });
  return sent.hash;
}
