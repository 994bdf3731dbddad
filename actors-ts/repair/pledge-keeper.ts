import { HttpError } from "../core/http-errors";
import { addPledge } from "../chain/repair-market/actions";
import { getMiner, getRepairParams } from "../chain/repair-market/reads";
import { tokenBalance } from "../chain/token/approve";
import type { RepairComponents } from "./components";
import type { RepairConfig } from "./config";
import { decidePledge, pledgeNeed, type PledgeNeed, type PledgeRefusal } from "./pledge-policy";

/**
 * The repair miner's pledge against the bids it takes (RepairMarket counts a miner's power as the
 * sum of its open deals' `size` and requires `pledgePerByte × power` of pledge at `addDeal`).
 *
 * - At a **proposal**, before any byte is uploaded, {@link check} refuses a bid the miner could
 *   not cover (409 `InsufficientPledge`, saying how much it has, how much the deal needs, and the
 *   command that adds it). It pledges nothing: a client that proposes and never uploads costs
 *   the owner no tokens.
 * - At the **commit**, once every byte has checked out, {@link coverAndRun} tops the pledge up
 *   by exactly the shortfall (with `autoPledge`, within `maxPledge`, from the worker's wallet:
 *   the daemon's worker is its miner's owner, and `addPledge` pulls from the caller) and runs
 *   `addDeal`, one commit at a time, so two commits cannot both count the same pledge.
 */
export class PledgeKeeper {
  private pledgePerByte: bigint | undefined;
  /** The commit that holds the pledge now (commits run one at a time). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly c: Pick<RepairComponents, "clients" | "contracts" | "logger">,
    private readonly init: Pick<RepairConfig, "autoPledge" | "maxPledge"> & {
      /** The miner's id, known once the daemon found or created it. */
      minerId: () => bigint;
    },
  ) {}

  /**
   * Refuses a bid of `bidSize` encoded bytes that the pledge does not cover and the policy would
   * not top up. Reads the chain; sends nothing.
   *
   * @throws HttpError 409 InsufficientPledge (details: minerId, pledge, required, shortfall,
   *   powerBytes, bidSize, pledgePerByte, reason, maxPledge, hint).
   */
  async check(bidSize: bigint): Promise<void> {
    const need = await this.need(bidSize);
    const decision = decidePledge(need, this.init);
    if (decision.action === "refuse") throw this.refusal(need, decision.reason);
  }

  /**
   * Makes sure the pledge covers a bid of `bidSize` bytes — topping it up by the shortfall when
   * the policy allows — and runs `makeDeal` (the `addDeal`) while no other commit can touch the
   * pledge.
   *
   * @returns What `makeDeal` returns.
   * @throws HttpError 409 InsufficientPledge as {@link check} (also when the wallet cannot pay the
   *   shortfall); ContractRevertedError from addPledge; what `makeDeal` throws.
   */
  coverAndRun<T>(bidSize: bigint, makeDeal: () => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      await this.cover(bidSize);
      return makeDeal();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async cover(bidSize: bigint): Promise<void> {
    const { clients, contracts, logger } = this.c;
    const need = await this.need(bidSize);
    if (need.shortfall === 0n) return;
    const wallet = await tokenBalance(clients, contracts.token, clients.account.address);
    const decision = decidePledge(need, this.init, wallet);
    if (decision.action === "refuse") throw this.refusal(need, decision.reason, wallet);
    if (decision.action === "covered") return;
    const txHash = await addPledge(clients, contracts, need.minerId, decision.amount);
    logger.info(
      { minerId: need.minerId, added: decision.amount, pledge: need.pledge + decision.amount, txHash },
      "pledge topped up for a repair deal",
    );
  }

  private async need(bidSize: bigint): Promise<PledgeNeed> {
    const { clients, contracts } = this.c;
    this.pledgePerByte ??= (await getRepairParams(clients, contracts)).pledgePerByte;
    const minerId = this.init.minerId();
    const miner = await getMiner(clients, contracts, minerId);
    return pledgeNeed(minerId, miner, bidSize, this.pledgePerByte);
  }

  /** The 409 that says what the miner has, what the deal needs, and how to add it. */
  private refusal(need: PledgeNeed, reason: PledgeRefusal, wallet?: bigint): HttpError {
    const why: Record<PledgeRefusal, string> = {
      autoPledgeOff: "the miner does not top up its pledge by itself (--auto-pledge is off)",
      overCap: `topping up would take the pledge past --max-pledge ${this.init.maxPledge ?? 0n}`,
      walletShort: `the worker's wallet holds ${wallet ?? 0n}, less than the shortfall`,
    };
    const command = addPledgeCommand(need.shortfall, need.minerId);
    return new HttpError(
      409,
      "InsufficientPledge",
      `repair miner ${need.minerId} cannot back this deal: its pledge is ${need.pledge} token base units, ` +
        `the deal needs ${need.required} (${need.shortfall} short); ${why[reason]}`,
      {
        minerId: need.minerId,
        pledge: need.pledge,
        required: need.required,
        shortfall: need.shortfall,
        powerBytes: need.powerBytes,
        bidSize: need.bidSize,
        pledgePerByte: need.pledgePerByte,
        reason,
        maxPledge: this.init.maxPledge,
        command,
        hint: `the miner's owner adds ${need.shortfall} with \`${command}\` (its key, --rpc and --deployment)`,
      },
    );
  }
}

/**
 * The command a miner's owner runs to add `amount` token base units of pledge to miner `minerId`,
 * with its own key, `--rpc` and `--deployment` (the miner's endpoint is not repeated to clients:
 * an RPC URL can carry an API key).
 */
export function addPledgeCommand(amount: bigint, minerId: bigint): string {
  return `npx repair-market repair add-pledge ${amount} --miner ${minerId}`;
}
