import type { Command } from "commander";
import { InvalidArgumentError } from "../core/errors";
import { loadAccount } from "../core/keys";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { cancelBidWithRefund } from "../chain/repair-market/actions";
import { WITHDRAW_SOURCES, withdrawAll, type WithdrawSource } from "../chain/withdraw-all";
import {
  deploymentOption,
  jsonOption,
  keyOption,
  parseBigint,
  printJson,
  reportError,
  rpcOption,
  type ChainOptions,
} from "./common";

/**
 * Commands that reach the money the contracts credit to an account (issue "Operations"): a
 * lost file's refund and slash share, a cancelled bid, settled escrow, collected channel pay.
 */

interface WithdrawOptions extends ChainOptions {
  from: string;
}

async function connect(opts: ChainOptions) {
  const account = loadAccount(opts.key);
  const clients = await connectChain(opts.rpc, account);
  return { clients, contracts: contractsOf(loadDeployment(opts.deployment, clients.chain.id)) };
}

/** `--from storage,repair,channels` (or `all`) as a list of sources. */
function parseSources(value: string): WithdrawSource[] {
  if (value === "all") return [...WITHDRAW_SOURCES];
  const sources = value.split(",").map((s) => s.trim());
  for (const s of sources) {
    if (!(WITHDRAW_SOURCES as readonly string[]).includes(s)) {
      throw new InvalidArgumentError(`--from takes all or a list of ${WITHDRAW_SOURCES.join(", ")}; got "${s}"`);
    }
  }
  return sources as WithdrawSource[];
}

/**
 * Adds `<role> withdraw [--from …]`: moves everything the account may withdraw from StorageMarket
 * (free escrow), RepairMarket (refunds, slash shares, earnings) and PaymentChannels (collected
 * pay) to its wallet, one transaction per non-empty source; prints each amount in token base
 * units (JSON with --json). Exit code 1 on failure.
 */
export function addWithdraw(parent: Command, who: string): void {
  parent
    .command("withdraw")
    .description(`withdraw everything the contracts hold for this ${who} to its wallet`)
    .option("--from <sources>", `all, or a comma-separated list of ${WITHDRAW_SOURCES.join(", ")}`, "all")
    .addOption(keyOption)
    .addOption(rpcOption)
    .addOption(deploymentOption)
    .addOption(jsonOption)
    .action(async (opts: WithdrawOptions) => {
      try {
        const sources = parseSources(opts.from);
        const { clients, contracts } = await connect(opts);
        const done = await withdrawAll(clients, contracts, sources);
        const total = done.reduce((sum, w) => sum + w.amount, 0n);
        if (opts.json) printJson({ ok: true, account: clients.account.address, total, withdrawals: done });
        else {
          for (const w of done) {
            process.stdout.write(`${w.source}\t${w.amount}${w.hash ? `\ttx ${w.hash}` : "\tnothing to withdraw"}\n`);
          }
          process.stdout.write(`total\t${total}\n`);
        }
      } catch (err) {
        reportError(err, Boolean(opts.json));
        process.exitCode = 1;
      }
    });
}

/**
 * Adds `client cancel-bid <bidId>`: cancels one of the client's open repair bids (a miner that
 * refused the deal leaves it open); the locked amount moves to the client's RepairMarket
 * balance, which `client withdraw` takes out. Exit code 1 on failure.
 */
export function addCancelBid(parent: Command): void {
  parent
    .command("cancel-bid")
    .description("cancel an open repair bid of this client; its funds become withdrawable (client withdraw)")
    .argument("<bidId>", "the bid", parseBigint)
    .addOption(keyOption)
    .addOption(rpcOption)
    .addOption(deploymentOption)
    .addOption(jsonOption)
    .action(async (bidId: bigint, opts: ChainOptions) => {
      try {
        const { clients, contracts } = await connect(opts);
        const { hash, refund } = await cancelBidWithRefund(clients, contracts, bidId);
        if (opts.json) printJson({ ok: true, bidId, refund, txHash: hash });
        else process.stdout.write(`bid ${bidId} cancelled; ${refund} now withdrawable (client withdraw)\ntx ${hash}\n`);
      } catch (err) {
        reportError(err, Boolean(opts.json));
        process.exitCode = 1;
      }
    });
}
