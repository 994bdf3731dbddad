import type { Hex } from "viem";
import type { ChainClients } from "./clients";
import type { MarketContracts } from "./contracts";
import { withdrawChannelBalance } from "./payment-channels/actions";
import { withdrawRepairBalance } from "./repair-market/actions";
import { repairBalanceOf } from "./repair-market/reads";
import { escrowBalance } from "./storage-market/reads";
import { withdrawBalance } from "./storage-market/withdraw-balance";

/** The contracts that credit an account with tokens it may withdraw. */
export const WITHDRAW_SOURCES = ["storage", "repair", "channels"] as const;
export type WithdrawSource = (typeof WITHDRAW_SOURCES)[number];

/** What one contract paid out: token base units, and the transaction when one was sent. */
export interface Withdrawal {
  source: WithdrawSource;
  amount: bigint;
  hash?: Hex;
}

/**
 * Withdraws everything the account may take out of the market's contracts to its wallet:
 * StorageMarket's free escrow (`withdrawBalance`; locked escrow stays), RepairMarket's balance
 * (refunds of cancelled bids and lost files, slash shares, claimed earnings; `withdraw`) and
 * PaymentChannels' balance (what `collect` credited; `withdraw`). A source with nothing to take
 * sends no transaction.
 *
 * @param sources Which contracts to empty (default all three).
 * @returns One entry per source asked for, in that order.
 * @throws ContractRevertedError, viem's RPC errors (earlier sources stay withdrawn).
 */
export async function withdrawAll(
  clients: ChainClients,
  contracts: MarketContracts,
  sources: readonly WithdrawSource[] = WITHDRAW_SOURCES,
): Promise<Withdrawal[]> {
  const self = clients.account.address;
  const out: Withdrawal[] = [];
  for (const source of sources) {
    if (source === "storage") {
      const { free } = await escrowBalance(clients, contracts, self);
      out.push({ source, amount: free, hash: free > 0n ? await withdrawBalance(clients, contracts, free) : undefined });
    } else if (source === "repair") {
      const amount = await repairBalanceOf(clients, contracts, self);
      out.push({
        source,
        amount,
        hash: amount > 0n ? await withdrawRepairBalance(clients, contracts, amount) : undefined,
      });
    } else {
      const { amount, hash } = await withdrawChannelBalance(clients, contracts);
      out.push({ source, amount, hash });
    }
  }
  return out;
}
