import { expect } from "chai";
import { mine, takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { ContractTransactionResponse } from "ethers";
import { progress } from "./property-runs";
import { SETTLE_DELAY, expectChannelFundsConserved, signVoucher, voucher, type ChannelFixture } from "./channels";

export type Action =
  | { kind: "create"; amount: bigint }
  | { kind: "fund"; pick: number; amount: bigint }
  | { kind: "redeem"; pick: number; lane: number; nonceStep: number; share: number; lower: boolean }
  | { kind: "settle"; pick: number; byPayee: boolean }
  | { kind: "collect"; pick: number }
  | { kind: "close"; pick: number }
  | { kind: "withdraw"; byPayee: boolean; share: number }
  | { kind: "advance"; epochs: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("create" as const), amount: fc.bigInt(1n, 10_000n) }) },
  fc.record({ kind: fc.constant("fund" as const), pick: fc.nat(5), amount: fc.bigInt(1n, 5_000n) }),
  {
    weight: 4,
    // Mostly valid vouchers (a share of what is left), sometimes a replayed nonce, an amount
    // above the funds, or a lower amount.
    arbitrary: fc.record({
      kind: fc.constant("redeem" as const),
      pick: fc.nat(5),
      lane: fc.nat(2),
      nonceStep: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 3 }) }, fc.constant(0)),
      share: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 100 }) }, fc.integer({ min: 101, max: 200 })),
      lower: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, fc.constant(true)),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("settle" as const), pick: fc.nat(5), byPayee: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("collect" as const), pick: fc.nat(5) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("close" as const), pick: fc.nat(5) }) },
  {
    weight: 2,
    // A share of the balance, all of it, or one unit more than there is.
    arbitrary: fc.record({
      kind: fc.constant("withdraw" as const),
      byPayee: fc.boolean(),
      share: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(100), fc.constant(101)),
    }),
  },
  fc.record({ kind: fc.constant("advance" as const), epochs: fc.integer({ min: 1, max: Number(SETTLE_DELAY) + 2 }) }),
);

const ALLOWED: Record<Action["kind"], string[]> = {
  create: [],
  fund: ["ChannelSettling", "ChannelCollected"],
  redeem: ["VoucherNonceTooLow", "VoucherAmountTooLow", "VoucherExceedsFunds", "ChannelCollected"],
  settle: ["ChannelSettling", "ChannelCollected"],
  collect: ["ChannelNotSettling", "SettleDelayNotOver", "ChannelCollected", "InsufficientBalance", "ZeroAmount"],
  close: [
    "ChannelSettling",
    "ChannelCollected",
    "ChannelNotSettling",
    "SettleDelayNotOver",
    "InsufficientBalance",
    "ZeroAmount",
  ],
  withdraw: ["InsufficientBalance", "ZeroAmount"],
  advance: [],
};

/** What the sequences did, so a run can show it exercised the contract. */
export interface ChannelPropertyStats {
  redeemed: number;
  collected: number;
}

/**
 * The PaymentChannels property: any sequence of creates, funds, vouchers (valid, replayed, too
 * large, lower), settles, collects and waits keeps every channel solvent, pays exactly the best
 * voucher of each lane, and leaves the contract holding exactly its channels' funds after every
 * step. Each sequence starts from a snapshot taken when this is called.
 */
export async function channelsProperty(
  f: ChannelFixture,
  stats: ChannelPropertyStats,
): Promise<fc.IAsyncProperty<[bigint, Action[]]>> {
  const snapshot = await takeSnapshot();
  const tick = progress("PaymentChannels");
  // The first channel's funds are drawn too, so payouts are not all multiples of a round number.
  const first = fc.bigInt(1_000n, 10_000n);
  const rest = fc.array(actionArb, { minLength: 3, maxLength: 10, size: "max" });
  return fc.asyncProperty(first, rest, async (amount, rest) => {
    tick();
    await snapshot.restore();
    const actions: Action[] = [{ kind: "create", amount }, ...rest];
    /** Model: per channel, its funds and each lane's best (nonce, amount). */
    const model: { funds: bigint; lanes: Map<number, { nonce: number; amount: bigint }>; collected: boolean }[] = [];
    /** Model: what payer and payee can withdraw. */
    const balances = { payer: 0n, payee: 0n };
    for (const action of actions) {
      const run = async (send: () => Promise<ContractTransactionResponse>): Promise<boolean> => {
        try {
          await (await send()).wait();
          return true;
        } catch (err) {
          const data = (err as { data?: string }).data;
          const parsed = data ? f.channels.interface.parseError(data) : null;
          if (!parsed || !ALLOWED[action.kind].includes(parsed.name)) throw err;
          return false;
        }
      };
      /** Withdraws `amount` for payer or payee; checks exactly that much arrived. */
      const withdraw = async (key: "payer" | "payee", amount: bigint): Promise<void> => {
        const who = key === "payee" ? f.payee : f.payer;
        const before = await f.token.balanceOf(who.address);
        if (!(await run(() => f.channels.connect(who).withdraw(amount)))) return;
        expect(amount <= balances[key] && amount > 0n, `withdrew ${amount} of ${balances[key]}`).to.equal(true);
        expect((await f.token.balanceOf(who.address)) - before).to.equal(amount);
        balances[key] -= amount;
      };
      /** Collects and checks both parties were credited exactly what the model says. */
      const collect = async (channel: number, id: bigint): Promise<boolean> => {
        const owed = [...model[channel].lanes.values()].reduce((sum, l) => sum + l.amount, 0n);
        if (!(await run(() => f.channels.connect(f.payer).collect(id)))) return false;
        balances.payee += owed;
        balances.payer += model[channel].funds - owed;
        model[channel].collected = true;
        // Both parties then take what they are owed (the withdraw action also takes part of it).
        for (const key of ["payee", "payer"] as const) await withdraw(key, balances[key]);
        return true;
      };
      const channel = "pick" in action && model.length > 0 ? action.pick % model.length : -1;
      const id = BigInt(channel + 1);
      switch (action.kind) {
        case "create":
          await run(() => f.channels.connect(f.payer).createChannel(f.payee.address, action.amount));
          model.push({ funds: action.amount, lanes: new Map(), collected: false });
          break;
        case "fund":
          if (channel < 0) break;
          if (await run(() => f.channels.connect(f.payer).fund(id, action.amount)))
            model[channel].funds += action.amount;
          break;
        case "redeem": {
          if (channel < 0) break;
          const m = model[channel];
          const current = m.lanes.get(action.lane) ?? { nonce: 0, amount: 0n };
          const owedNow = [...m.lanes.values()].reduce((sum, l) => sum + l.amount, 0n);
          const amount = action.lower
            ? current.amount - 1n
            : current.amount + ((m.funds - owedNow) * BigInt(action.share)) / 100n + (action.share > 100 ? 1n : 0n);
          if (amount < 0n) break;
          const nonce = current.nonce + action.nonceStep;
          const v = voucher({ channelId: id, lane: BigInt(action.lane), nonce: BigInt(nonce), amount });
          const signature = await signVoucher(f.channels, f.payer, v);
          if (await run(() => f.channels.connect(f.payee).updateChannelState(v, signature, "0x"))) {
            expect(nonce > current.nonce && amount >= current.amount).to.equal(true);
            m.lanes.set(action.lane, { nonce, amount });
            stats.redeemed++;
          }
          break;
        }
        case "settle":
          if (channel < 0) break;
          await run(() => f.channels.connect(action.byPayee ? f.payee : f.payer).settle(id));
          break;
        case "close":
          // settle, wait out the delay, collect.
          if (channel < 0) break;
          await run(() => f.channels.connect(f.payee).settle(id));
          await mine(SETTLE_DELAY);
          if (await collect(channel, id)) stats.collected++;
          break;
        case "collect":
          if (channel < 0) break;
          if (await collect(channel, id)) stats.collected++;
          break;
        case "withdraw": {
          const key = action.byPayee ? "payee" : "payer";
          await withdraw(key, action.share > 100 ? balances[key] + 1n : (balances[key] * BigInt(action.share)) / 100n);
          break;
        }
        case "advance":
          await mine(action.epochs);
          break;
      }
      await expectChannelFundsConserved(f);
      expect(await f.channels.balanceOf(f.payer.address)).to.equal(balances.payer);
      expect(await f.channels.balanceOf(f.payee.address)).to.equal(balances.payee);
      for (const [i, m] of model.entries()) {
        const onChain = await f.channels.getChannel(BigInt(i + 1));
        const owed = [...m.lanes.values()].reduce((s, l) => s + l.amount, 0n);
        expect(onChain.collected).to.equal(m.collected);
        if (!m.collected) {
          expect(onChain.funds).to.equal(m.funds);
          expect(onChain.redeemed).to.equal(owed);
          expect(owed).to.be.at.most(m.funds);
        }
      }
    }
  });
}
