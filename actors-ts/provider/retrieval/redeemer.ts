import { isRevert } from "../../chain/contract-errors";
import {
  collectChannel,
  getChannel,
  getLane,
  updateChannelState,
  withdrawChannelBalance,
} from "../../chain/payment-channels/actions";
import type { ProviderComponents, ProviderInit } from "../components";
import type { RetrievalStore } from "./retrieval-store";

/**
 * Turns retrieval vouchers into money (seed 001 step k: "tells the PaymentChannel to transfer
 * funds"): every `redeemIntervalMs` it redeems each lane's best voucher with
 * `updateChannelState`, collects channels whose payer started settling once the delay has
 * passed (redeeming everything first), and withdraws what collects credited it (pull payments).
 */
export class Redeemer {
  constructor(
    private readonly c: Pick<ProviderComponents, "clients" | "contracts" | "logger" | "loops">,
    private readonly init: Pick<ProviderInit, "redeemIntervalMs">,
    private readonly retrievals: RetrievalStore,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    await this.c.loops.run(
      "redeemer",
      this.init.redeemIntervalMs,
      signal,
      () => this.tick(),
      (err) => this.c.logger.warn({ err }, "redeem round failed; retrying"),
    );
  }

  /** One round; returns the token base units newly redeemed. */
  async tick(): Promise<bigint> {
    const { clients, contracts, logger } = this.c;
    let redeemed = 0n;
    for (const lane of this.retrievals.unredeemed()) {
      const v = lane.voucher;
      try {
        const { delta } = await updateChannelState(clients, contracts, v, lane.signature);
        redeemed += delta;
        this.retrievals.markRedeemed(v.channelId, v.lane, v.amount);
      } catch (err) {
        if (isRevert(err, "VoucherNonceTooLow") || isRevert(err, "ChannelCollected")) {
          const onChain = await getLane(clients, contracts, v.channelId, v.lane);
          this.retrievals.markRedeemed(v.channelId, v.lane, onChain.redeemed);
          continue;
        }
        throw err;
      }
    }
    const latest = await clients.public.getBlockNumber();
    for (const { channelId } of this.retrievals.openChannels()) {
      const channel = await getChannel(clients, contracts, channelId);
      if (channel.collected) {
        this.retrievals.markCollected(channelId);
      } else if (channel.settlingAt !== 0n && latest + 1n >= channel.settlingAt) {
        const { toPayee } = await collectChannel(clients, contracts, channelId);
        this.retrievals.markCollected(channelId);
        logger.info({ channelId: channelId.toString(), toPayee: toPayee.toString() }, "payment channel collected");
      }
    }
    // Collected channels (by us or by the payer) credit our balance; take it out.
    const withdrawn = await withdrawChannelBalance(clients, contracts);
    if (withdrawn.amount > 0n) logger.info({ amount: withdrawn.amount.toString() }, "channel balance withdrawn");
    if (redeemed > 0n) logger.info({ redeemed: redeemed.toString() }, "retrieval vouchers redeemed");
    return redeemed;
  }
}
