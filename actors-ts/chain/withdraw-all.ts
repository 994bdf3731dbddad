import type { Address, Hex } from "viem";
import type { ChainClients } from "./clients";
import type { MarketContracts } from "./contracts";
import { withdrawChannelBalance } from "./payment-channels/actions";
import { withdrawRepairBalance } from "./repair-market/actions";
import { repairBalanceOf } from "./repair-market/reads";
import { escrowBalance } from "./storage-market/reads";
import { withdrawBalance } from "./storage-market/withdraw-balance";
import { transferToken } from "./token/approve";

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

/** What {@link withdrawBeyond} moved. */
export interface WithdrawBeyondResult {
  /** StorageMarket then RepairMarket; an amount of 0 sent no transaction. */
  withdrawals: Withdrawal[];
  /** The ERC-20 transfer of what was withdrawn to `to`, when `to` is not the account. */
  forwarded?: { to: Address; amount: bigint; hash: Hex };
}

/**
 * The repair miner's scheduled withdrawal (issue 17, decision 34): StorageMarket's free escrow
 * beyond `storageKeep` (`withdrawBalance`), RepairMarket's whole balance (`withdraw`: claimed
 * earnings, refunds, slash shares), then, when `to` is another address, one ERC-20 `transfer` of
 * exactly what the two withdrawals brought (the rest of the wallet stays: it pays for later
 * escrow top-ups). Locked escrow is never touched.
 *
 * @param options.storageKeep Token base units of free StorageMarket escrow to leave.
 * @param options.to Where the tokens end up (default: the account's own wallet).
 * @throws ContractRevertedError, viem's RPC errors (earlier steps stay done).
 */
export async function withdrawBeyond(
  clients: ChainClients,
  contracts: MarketContracts,
  options: { storageKeep: bigint; to?: Address },
): Promise<WithdrawBeyondResult> {
  const self = clients.account.address;
  const { free } = await escrowBalance(clients, contracts, self);
  const storage = free > options.storageKeep ? free - options.storageKeep : 0n;
  const withdrawals: Withdrawal[] = [
    {
      source: "storage",
      amount: storage,
      hash: storage > 0n ? await withdrawBalance(clients, contracts, storage) : undefined,
    },
  ];
  const repair = await repairBalanceOf(clients, contracts, self);
  withdrawals.push({
    source: "repair",
    amount: repair,
    hash: repair > 0n ? await withdrawRepairBalance(clients, contracts, repair) : undefined,
  });
  const amount = storage + repair;
  if (!options.to || options.to.toLowerCase() === self.toLowerCase() || amount === 0n) return { withdrawals };
  const hash = await transferToken(clients, contracts.token, options.to, amount);
  return { withdrawals, forwarded: { to: options.to, amount, hash } };
}
