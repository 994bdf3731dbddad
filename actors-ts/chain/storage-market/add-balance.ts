import type { Address } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";
import { ensureAllowance } from "../token/approve";

/**
 * `StorageMarket.addBalance`: approves the market if needed, then credits `account`'s free
 * escrow with `amount` token base units from the clients' account.
 *
 * @throws ContractRevertedError (ZeroAmount, AmountTooLarge, ERC20InsufficientBalance…).
 */
export async function addBalance(
  clients: ChainClients,
  contracts: MarketContracts,
  account: Address,
  amount: bigint,
): Promise<{ hash: `0x${string}`; credited: bigint }> {
  await ensureAllowance(clients, contracts.token, contracts.storageMarket, amount);
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "addBalance",
      args: [account, amount],
    },
    ["BalanceAdded"],
  );
  return { hash: sent.hash, credited: sent.events[0]?.args.amount ?? 0n };
}
