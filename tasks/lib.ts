/**
 * Shared plumbing of the `npx hardhat rm …` tasks (tasks/market.ts, tasks/repair.ts): the `rm`
 * scope, the common options, the connection to the node behind `--network`, output as a table or
 * JSON, and one-line errors.
 *
 * Agent modules are imported inside functions, not at the top: they need the generated ABIs,
 * which the first `hardhat compile` (that also loads this file) has not written yet.
 */
import { scope, types } from "hardhat/config";
import { HardhatPluginError } from "hardhat/plugins";
import type { ConfigurableTaskDefinition, HardhatRuntimeEnvironment, HttpNetworkConfig } from "hardhat/types";
import type { Hex } from "viem";
import type { ChainClients } from "../actors-ts/chain/clients";
import type { MarketContracts } from "../actors-ts/chain/contracts";
import type { Deployment } from "../actors-ts/chain/deployment";

export const rm = scope(
  "rm",
  "repair-market: deploy, verify a deployment, register, ask, bid, list deals, repair health, settle, claim (--network localhost or custom)",
);

export interface CommonArgs {
  account: number;
  key?: string;
  deployment: string;
  json: boolean;
}

/** A connection to the node behind `--network`, with the deployment read for its chain id. */
export interface Session {
  clients: ChainClients;
  contracts: MarketContracts;
  deployment: Deployment;
}

/**
 * Connects to the node behind `--network` as `--key`, else as account `--account`: the network's
 * configured keys when it has some (`--network custom`: account 0 is $DEPLOYER_KEY), Hardhat's
 * dev accounts otherwise.
 */
export async function connect(hre: HardhatRuntimeEnvironment, args: CommonArgs): Promise<Session> {
  if (hre.network.name === "hardhat") {
    throw new Error(
      "rm tasks talk to a running node: add `--network localhost` (RPC_URL=… picks another URL than 127.0.0.1:8545)",
    );
  }
  const { privateKeyToAccount } = await import("viem/accounts");
  const { connectChain } = await import("../actors-ts/chain/clients");
  const { loadDeployment } = await import("../actors-ts/chain/deployment");
  const { contractsOf } = await import("../actors-ts/chain/contracts");
  const { devKey } = await import("../scripts/lib/agents");
  const config = hre.network.config as HttpNetworkConfig;
  const configured = Array.isArray(config.accounts) ? config.accounts : undefined;
  if (args.key === undefined && configured !== undefined && configured[args.account] === undefined) {
    throw new Error(
      `network ${hre.network.name} has ${configured.length} key(s): --account ${args.account} is not one`,
    );
  }
  const key = (args.key ?? configured?.[args.account] ?? devKey(args.account)) as Hex;
  const clients = await connectChain(config.url, privateKeyToAccount(key));
  const deployment = loadDeployment(args.deployment, clients.chain.id);
  return { clients, contracts: contractsOf(deployment), deployment };
}

/** Prints rows as JSON (`--json`) or as tab-separated lines under a header. */
export function print(
  args: Pick<CommonArgs, "json">,
  rows: Record<string, unknown>[] | Record<string, unknown>,
  header?: string,
): void {
  const text = (v: unknown) =>
    typeof v === "bigint" ? v.toString() : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`,
    );
    return;
  }
  const list = Array.isArray(rows) ? rows : [rows];
  if (header) process.stdout.write(`${header}\n`);
  if (list.length === 0) {
    if (!header) process.stdout.write("(none)\n");
    return;
  }
  const keys = Object.keys(list[0]);
  process.stdout.write(`${keys.join("\t")}\n`);
  for (const row of list) process.stdout.write(`${keys.map((k) => text(row[k])).join("\t")}\n`);
}

/** Adds --account, --key, --deployment and --json to a task. */
export function common(task: ConfigurableTaskDefinition): ConfigurableTaskDefinition {
  return task
    .addOptionalParam("account", "Hardhat dev account index that signs", 0, types.int)
    .addOptionalParam("key", "private key that signs (instead of --account)", undefined, types.string)
    .addOptionalParam("deployment", "deployment file or directory", "deployments", types.string)
    .addFlag("json", "print JSON instead of a table");
}

/**
 * Runs a task body; a failure is reported as one line naming the contract call and its decoded
 * revert (stack with --show-stack-traces), with a hint when the account lacks tokens.
 */
export function run<A extends object>(
  body: (args: A, hre: HardhatRuntimeEnvironment) => Promise<void>,
): (args: A, hre: HardhatRuntimeEnvironment) => Promise<void> {
  return async (args, hre) => {
    try {
      await body(args, hre);
    } catch (err) {
      const message = (err as Error).message.split("\n")[0];
      const hint = /ERC20Insufficient(Balance|Allowance)/.test(message)
        ? " (give the account tokens: npx hardhat rm fund --accounts N --network localhost)"
        : "";
      throw new HardhatPluginError("repair-market", `${message}${hint}`, err as Error);
    }
  };
}

/** Comma-separated decimal ids. */
export function ids(list: string | undefined): bigint[] {
  if (!list) return [];
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (!/^\d+$/.test(s)) throw new Error(`not a decimal id: "${s}"`);
      return BigInt(s);
    });
}
