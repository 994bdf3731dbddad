import type { Address } from "viem";

/**
 * What the retrieval fetches of one process agree on with each other about paying one provider
 * (decisions 37), keyed by (payer, provider):
 *
 * - **One opening at a time.** Choosing or creating a channel, topping it up and opening a lane
 *   run one after another ({@link exclusive}), and every running fetch counts its whole price
 *   against its channel ({@link reserve}), so two fetches side by side neither create two
 *   channels nor both count the same free funds.
 * - **One fetch on credit.** A provider sends a client at most its unpaid allowance (one interval
 *   by default) beyond what it paid, across all the client's lanes. One fetch at a time takes that
 *   credit ({@link takeCredit}) and pays each interval after receiving it, as Filecoin's
 *   retrieval does; the others pay each interval in advance, so none waits or is refused.
 *
 * Fetches in other processes on the same key are not seen: a provider that refuses credit makes
 * the fetch pay in advance from then on (one extra request).
 */
export class ChannelBook {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly credit = new Set<string>();
  private readonly fetches = new Map<string, Map<string, bigint>>();

  /**
   * Runs `work` once every earlier `work` for the same payer and provider has settled.
   *
   * @returns What `work` returns; throws what it throws.
   */
  async exclusive<T>(payer: Address, provider: Address, work: () => Promise<T>): Promise<T> {
    const key = keyOf(payer, provider);
    const run = (this.queues.get(key) ?? Promise.resolve()).then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    }
  }

  /**
   * Takes the provider's credit for one fetch when no other fetch of this book holds it.
   *
   * @returns A function giving it back (idempotent), or undefined when another fetch holds it.
   */
  takeCredit(payer: Address, provider: Address): (() => void) | undefined {
    const key = keyOf(payer, provider);
    if (this.credit.has(key)) return undefined;
    this.credit.add(key);
    let held = true;
    return () => {
      if (held) this.credit.delete(key);
      held = false;
    };
  }

  /**
   * Records a fetch running on a channel's lane until the returned function is called.
   *
   * @param cost Token base units the fetch pays on its lane in all (price × its range).
   * @returns A function ending the record (idempotent).
   */
  reserve(channelId: bigint, lane: bigint, cost: bigint): () => void {
    const channel = this.fetches.get(channelId.toString()) ?? new Map<string, bigint>();
    this.fetches.set(channelId.toString(), channel);
    channel.set(lane.toString(), cost);
    return () => {
      channel.delete(lane.toString());
      if (channel.size === 0 && this.fetches.get(channelId.toString()) === channel) {
        this.fetches.delete(channelId.toString());
      }
    };
  }

  /** The fetches running on a channel: each lane and what it pays in all, token base units. */
  running(channelId: bigint): { lane: bigint; cost: bigint }[] {
    return [...(this.fetches.get(channelId.toString()) ?? new Map<string, bigint>())].map(([lane, cost]) => ({
      lane: BigInt(lane),
      cost,
    }));
  }
}

/** The book every fetch of this process shares unless given its own. */
export const processChannelBook = new ChannelBook();

function keyOf(payer: Address, provider: Address): string {
  return `${payer.toLowerCase()}:${provider.toLowerCase()}`;
}
