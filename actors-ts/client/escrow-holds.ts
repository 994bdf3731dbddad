import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import { addBalance } from "../chain/storage-market/add-balance";
import { escrowBalance } from "../chain/storage-market/reads";

/**
 * A storage client's free StorageMarket escrow, shared by the proposals it has prepared and not
 * yet seen published: each proposal *holds* what its publication will lock (storagePricePerEpoch
 * × (endEpoch − startEpoch) + clientCollateral, token base units), and a top-up covers a new
 * amount on top of every hold. Top-ups run one at a time.
 *
 * Without holds, proposals prepared side by side each saw the same free escrow as enough, and all
 * but the first failed at publication with `ClientBalanceTooLow` (a repair miner placing eight
 * pieces at once, decision 47). Holds live in this process only: a proposal resumed after a
 * restart takes its hold again when it is completed.
 */
export class EscrowHolds {
  private readonly holds = new Map<string, bigint>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly c: { clients: ChainClients; contracts: MarketContracts }) {}

  /**
   * Tops the account's free escrow up (`addBalance`) so that it covers `needed` on top of every
   * other hold; with `key`, then holds `needed` under it (replacing that key's earlier hold).
   *
   * @returns Token base units deposited (0 when the free escrow already covered it).
   * @throws ContractRevertedError (the deposit), RpcUnreachableError.
   */
  ensure(needed: bigint, key?: string): Promise<bigint> {
    const run = this.queue.then(async () => {
      const { clients, contracts } = this.c;
      let held = 0n;
      for (const [k, amount] of this.holds) if (k !== key) held += amount;
      const { free } = await escrowBalance(clients, contracts, clients.account.address);
      const shortfall = held + needed > free ? held + needed - free : 0n;
      if (shortfall > 0n) await addBalance(clients, contracts, clients.account.address, shortfall);
      if (key !== undefined) this.holds.set(key, needed);
      return shortfall;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Moves the hold under `from` to `to` (a proposal's hash once it is known). */
  rename(from: string, to: string): void {
    const amount = this.holds.get(from);
    if (amount === undefined) return;
    this.holds.delete(from);
    this.holds.set(to, amount);
  }

  /** Ends the hold under `key`: its proposal was published (the market locked it) or given up. */
  release(key: string): void {
    this.holds.delete(key);
  }

  /** Token base units held in all, for tests and views. */
  get total(): bigint {
    let sum = 0n;
    for (const amount of this.holds.values()) sum += amount;
    return sum;
  }
}
