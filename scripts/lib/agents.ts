import { spawn, type ChildProcess } from "node:child_process";
import { basename, join } from "node:path";
import { createWalletClient, http, toHex, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import type { Devnet } from "./devnet";
import { runHardhat, runNode, type ProcessRun } from "./devnet";
import { trackProcess } from "./process-log";
import { readDeployment, type Deployment } from "../../actors-ts/chain/deployment";
import { paymentTokenAbi } from "../../actors-ts/chain/generated/abis";

const ROOT = join(__dirname, "..", "..");
const CLI = join(ROOT, "bin", "repair-market.cjs");
const MNEMONIC = "test test test test test test test test test test test junk";

/** Private key of Hardhat's default account `index` (the devnet's funded accounts). */
export function devKey(index: number): Hex {
  const key = mnemonicToAccount(MNEMONIC, { addressIndex: index }).getHdKey().privateKey;
  if (!key) throw new Error("no private key");
  return toHex(key);
}

/** Address of Hardhat's default account `index`. */
export function devAddress(index: number): Address {
  return mnemonicToAccount(MNEMONIC, { addressIndex: index }).address;
}

/** Deploys the contracts to `devnet` and returns the deployment. */
export async function deployTo(
  devnet: Devnet,
  dir: string,
  marketParams: Record<string, number> = {},
  repairParams: Record<string, number> = {},
): Promise<Deployment> {
  await runHardhat(["run", "scripts/deploy.ts", "--network", "localhost"], {
    RPC_URL: devnet.rpcUrl,
    DEPLOYMENTS_DIR: dir,
    MARKET_PARAMS: JSON.stringify(marketParams),
    REPAIR_PARAMS: JSON.stringify(repairParams),
  });
  return readDeployment(31337, dir);
}

/** Sends devnet tokens from account 0 (which holds the supply) to `to`. */
export async function fundTokens(devnet: Devnet, deployment: Deployment, to: Address[], amount: bigint): Promise<void> {
  const wallet = createWalletClient({
    account: mnemonicToAccount(MNEMONIC, { addressIndex: 0 }),
    transport: http(devnet.rpcUrl),
  });
  const chain = {
    id: 31337,
    name: "devnet",
    nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [devnet.rpcUrl] } },
  };
  for (const address of to) {
    await wallet.writeContract({
      chain,
      address: deployment.contracts.PaymentToken as Address,
      abi: paymentTokenAbi,
      functionName: "transfer",
      args: [address, amount],
    });
  }
}

/** A CLI invocation's result. */
export type CliResult = ProcessRun;

/**
 * Moves a hex key given as `--key 0x…` (or `--key=0x…`) out of `args` into the child's
 * `RM_PRIVATE_KEY`, where `ps` and /proc/<pid>/cmdline do not show it (the CLI reads the variable
 * when --key is absent). A `--key` naming a file stays: a path is no secret. A key in `args` wins
 * over an `RM_PRIVATE_KEY` in `env`, as `--key` wins over the variable in the CLI.
 *
 * @returns The arguments without the key, and `env` with RM_PRIVATE_KEY set when one moved.
 */
export function keyArgsToEnv(args: string[], env: NodeJS.ProcessEnv): { args: string[]; env: NodeJS.ProcessEnv } {
  const isHex = (v: string | undefined): v is string => v !== undefined && /^0x[0-9a-fA-F]*$/.test(v.trim());
  const rest: string[] = [];
  let key: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--key" && isHex(args[i + 1])) key = args[++i];
    else if (args[i].startsWith("--key=") && isHex(args[i].slice("--key=".length))) key = args[i].slice(6);
    else rest.push(args[i]);
  }
  return { args: rest, env: key === undefined ? env : { ...env, RM_PRIVATE_KEY: key } };
}

/**
 * Runs `repair-market …` to completion (SIGKILLed and rejected after `timeoutMs`). A hex
 * `--key` in `args` reaches the CLI through its environment, not its command line
 * ({@link keyArgsToEnv}).
 */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 180_000,
  stdin?: string,
): Promise<CliResult> {
  const moved = keyArgsToEnv(args, env);
  return runNode([CLI, ...moved.args], { env: moved.env, timeoutMs, stdin });
}

/** Longest wait for a daemon's "started" line, ms. */
const START_TIMEOUT_MS = 180_000;

/** A daemon started as a child process. */
export interface DaemonProcess {
  process: ChildProcess;
  url: string;
  address: Address;
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
}

/**
 * Starts `repair-market <role> start --json …` (`dealbot controller` for "dealbot") and waits
 * for its "started" line. A hex `--key` in `args` is passed as the child's RM_PRIVATE_KEY
 * instead ({@link keyArgsToEnv}), so no key shows in the daemon's command line.
 *
 * @throws Error with the daemon's output if it exits, or stays silent for `START_TIMEOUT_MS`
 * (a bound for a loaded machine, where ten daemons starting at once can take a minute).
 */
export function startDaemon(
  role: "provider" | "repair" | "dealbot",
  givenArgs: string[],
  givenEnv: NodeJS.ProcessEnv = {},
): Promise<DaemonProcess> {
  const { args, env } = keyArgsToEnv(givenArgs, givenEnv);
  return new Promise((resolve, reject) => {
    const command = role === "dealbot" ? ["dealbot", "controller"] : [role, "start"];
    const child = spawn(process.execPath, [CLI, ...command, "--json", ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const dataDir = args[args.indexOf("--data-dir") + 1];
    const name = args.includes("--data-dir") ? `${role} ${basename(dataDir)}` : role;
    let output = "";
    trackProcess({ name, process: child, output: () => output });
    let stdout = "";
    let started = false;
    const exited = new Promise<void>((r) =>
      child.once("exit", (code, signal) => {
        output += `\n[${role} process ${child.pid} exited: code ${code}, signal ${signal}]\n`;
        r();
      }),
    );
    const timer = setTimeout(() => {
      if (!started) {
        child.kill("SIGKILL");
        reject(new Error(`${role} did not start within ${START_TIMEOUT_MS / 1000} s:\n${output}`));
      }
    }, START_TIMEOUT_MS);
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      stdout += d.toString();
      if (started) return;
      let info: { event?: string; url: string; address: Address };
      try {
        info = JSON.parse(stdout);
      } catch {
        return; // the JSON document is not complete yet
      }
      if (info.event !== "started") return;
      started = true;
      clearTimeout(timer);
      resolve({
        process: child,
        url: info.url,
        address: info.address,
        output: () => output,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          await exited;
        },
        async kill9() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
      });
    });
    child.on("exit", (code) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`${role} exited with ${code} before starting:\n${output}`));
      }
    });
  });
}
