import { Option, type Command } from "commander";
import { InvalidArgumentError } from "../core/errors";
import { loadAccount } from "../core/keys";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { addPledge } from "../chain/repair-market/actions";
import { getMiner, repairMinerOfWorker } from "../chain/repair-market/reads";
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

interface AddPledgeOptions extends ChainOptions {
  /** The repair miner's id (default: the miner this key is the worker of). */
  miner?: bigint;
}

/**
 * Adds `repair add-pledge <amount> [--miner ID]`: pulls `amount` token base units from the key's
 * wallet into the miner's pledge (`RepairMarket.addPledge`; anyone may add, only the owner may
 * withdraw), so the miner can take deals of `amount / pledgePerByte` more bytes. Prints the
 * pledge and power after it (JSON with --json). Exit code 1 on failure.
 */
export function addAddPledge(parent: Command): void {
  parent
    .command("add-pledge")
    .description("add pledge to a repair miner from this key's wallet, so it can take larger deals")
    .argument("<amount>", "token base units to add", parseBigint)
    .addOption(
      new Option("--miner <id>", "the repair miner (default: the one this key is the worker of)").argParser(
        parseBigint,
      ),
    )
    .addOption(keyOption)
    .addOption(rpcOption)
    .addOption(deploymentOption)
    .addOption(jsonOption)
    .action(async (amount: bigint, opts: AddPledgeOptions) => {
      try {
        const clients = await connectChain(opts.rpc, loadAccount(opts.key));
        const contracts = contractsOf(loadDeployment(opts.deployment, clients.chain.id));
        const minerId = opts.miner ?? (await repairMinerOfWorker(clients, contracts, clients.account.address));
        if (minerId === undefined) {
          throw new InvalidArgumentError(`${clients.account.address} is no repair miner's worker`, {
            details: { hint: "name the miner with --miner ID" },
          });
        }
        if (amount === 0n) throw new InvalidArgumentError("the amount to add must be above 0");
        const hash = await addPledge(clients, contracts, minerId, amount);
        const miner = await getMiner(clients, contracts, minerId);
        if (opts.json)
          printJson({
            ok: true,
            minerId,
            added: amount,
            pledge: miner.pledge,
            powerBytes: miner.powerBytes,
            txHash: hash,
          });
        else
          process.stdout.write(
            `repair miner ${minerId}: pledge ${miner.pledge} token base units (added ${amount}), power ${miner.powerBytes} bytes\ntx ${hash}\n`,
          );
      } catch (err) {
        reportError(err, Boolean(opts.json));
        process.exitCode = 1;
      }
    });
}
