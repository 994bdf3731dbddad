import type { ChainClients } from "../../chain/clients";
import type { MarketContracts } from "../../chain/contracts";
import { getChannel } from "../../chain/payment-channels/actions";
import { HttpError } from "../../core/http-errors";

/** A payment channel as `getChannel` reads it. */
export type ChannelState = Awaited<ReturnType<typeof getChannel>>;

/** How long a channel read serves further intervals, ms. */
export const CHANNEL_CACHE_MS = 1_000;

/** Refusals that a fresher read of the channel can lift (its funds may have grown since). */
const FUNDS_REFUSALS = new Set(["ChannelUnderfunded", "UnpaidExceedsFunds"]);

/**
 * The provider's reads of payment channels while it serves retrievals: each paid interval used to
 * read the channel on chain (one `eth_call` per interval). A read now serves the channel's next
 * intervals for {@link CHANNEL_CACHE_MS}. That is safe because a channel only moves one way while
 * it is open: its funds only grow (`fundChannel`), and once settling or collected it never opens
 * again. So a stale read can only refuse too much — such a refusal is retried on a fresh read
 * ({@link withChannel}) — or serve for at most a second more a channel whose payer has just
 * started to settle (its settle delay is many epochs, ample to redeem the vouchers taken).
 */
export class ChannelCache {
  private readonly entries = new Map<bigint, { channel: ChannelState; at: number }>();

  constructor(
    private readonly c: { clients: Pick<ChainClients, "public">; contracts: MarketContracts },
    private readonly maxAgeMs = CHANNEL_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs `use` with channel `channelId` read at most `maxAgeMs` ago; when `use` is refused for
   * want of funds on a cached read, reads the channel again and runs `use` once more.
   *
   * @throws Whatever `use` throws on a fresh read; viem's RPC errors.
   */
  async withChannel<T>(channelId: bigint, use: (channel: ChannelState) => Promise<T> | T): Promise<T> {
    const cached = this.entries.get(channelId);
    if (cached && this.now() - cached.at <= this.maxAgeMs) {
      try {
        return await use(cached.channel);
      } catch (err) {
        if (!(err instanceof HttpError) || !FUNDS_REFUSALS.has(err.code)) throw err;
      }
    }
    return use(await this.read(channelId));
  }

  private async read(channelId: bigint): Promise<ChannelState> {
    const channel = await getChannel(this.c.clients, this.c.contracts, channelId);
    this.entries.set(channelId, { channel, at: this.now() });
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value as bigint);
    return channel;
  }
}
