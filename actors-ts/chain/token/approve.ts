import type { Address } from "viem";
import { paymentTokenAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import { sendContract } from "../send";

/**
 * ERC-20 `approve`, sent only when the current allowance is below `amount`.
 *
 * @param amount Token base units the spender needs.
 * @returns The transaction hash, or undefined when the allowance already sufficed.
 */
export async function ensureAllowance(
  clients: ChainClients,
  token: Address,
  spender: Address,
  amount: bigint,
): Promise<`0x${string}` | undefined> {
  const allowance = await clients.public.readContract({
    address: token,
    abi: paymentTokenAbi,
    functionName: "allowance",
    args: [clients.account.address, spender],
  });
  if (allowance >= amount) return undefined;
  const sent = await sendContract(clients, {
    contract: "PaymentToken",
    address: token,
    abi: paymentTokenAbi,
    functionName: "approve",
    args: [spender, amount > 2n ** 200n ? amount : 2n ** 255n],
  });
  return sent.hash;
}

/** ERC-20 balance of `owner`, token base units. */
export async function tokenBalance(clients: ChainClients, token: Address, owner: Address): Promise<bigint> {
  return clients.public.readContract({
    address: token,
    abi: paymentTokenAbi,
    functionName: "balanceOf",
    args: [owner],
  });
}

/** ERC-20 `transfer` from the clients' account. */
export async function transferToken(
  clients: ChainClients,
  token: Address,
  to: Address,
  amount: bigint,
): Promise<`0x${string}`> {
  const sent = await sendContract(clients, {
    contract: "PaymentToken",
    address: token,
    abi: paymentTokenAbi,
    functionName: "transfer",
    args: [to, amount],
  });
  return sent.hash;
}
