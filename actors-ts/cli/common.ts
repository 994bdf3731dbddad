import { homedir } from "node:os";
import { join } from "node:path";
import { Option, type Command } from "commander";
import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import { stringifyJson } from "../core/json";
import { cliContext, describeError } from "./error-report";
import { errorDetailLines } from "./error-details";

export { describeZodError } from "./error-report";

/** Options every command that talks to the chain accepts. */
export interface ChainOptions {
  rpc: string;
  key?: string;
  deployment: string;
  dataDir?: string;
  json?: boolean;
}

export const rpcOption = new Option("--rpc <url>", "JSON-RPC endpoint of the chain")
  .env("RM_RPC_URL")
  .default("http://127.0.0.1:8545");
export const keyOption = new Option(
  "--key <hex-or-file>",
  "private key (0x-prefixed hex) or a file holding one; default $RM_PRIVATE_KEY " +
    "(a hex key on the command line shows in ps: prefer --key-file or $RM_PRIVATE_KEY)",
);
/**
 * `--key-file <path>`: a file whose first line is the 0x-prefixed hex key (keep it mode 0600).
 * main.ts adds it next to every `--key` and loads it into `key` before the action runs.
 */
export const keyFileOption = new Option(
  "--key-file <path>",
  "file holding the private key (0x-prefixed hex, first line); the way to keep the key out of ps",
).conflicts("key");
export const deploymentOption = new Option(
  "--deployment <path>",
  "deployments/<chainId>.json, or the directory holding it",
).default("deployments");
export const jsonOption = new Option("--json", "print machine-readable JSON on stdout");

/**
 * A daemon's options for reading a real chain (decision 36): the log window and how often the
 * chain is checked to still have the deployment; `halts` names what a reset chain stops.
 */
export function chainOptions(halts: string): Option[] {
  return [
    new Option("--log-range-blocks <n>", "most blocks one eth_getLogs asks for (default 2000)").argParser(
      parseIntOption,
    ),
    new Option("--log-lookback-blocks <n>", "furthest back, in blocks, any log is read (default 2880)").argParser(
      parseIntOption,
    ),
    new Option(
      "--chain-check-interval-ms <ms>",
      `how often the chain is checked to still have the deployment (a reset chain halts ${halts})`,
    ).argParser(parseIntOption),
  ];
}

/** Adds every option of `options` to `command`; returns the command. */
export function withOptions<T extends Command>(command: T, options: Option[]): T {
  for (const option of options) command.addOption(option);
  return command;
}

/** Default data directory of a role: ~/.repair-market/<role>. */
export function defaultDataDir(role: string): string {
  return join(homedir(), ".repair-market", role);
}

/** Parses a non-negative integer option into a bigint. */
export function parseBigint(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return BigInt(value);
}

/** Parses an integer option. */
export function parseIntOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return n;
}

/** Writes one JSON document (bigints as strings) to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(stringifyJson(value, 2) + "\n");
}

/**
 * Reports a failure. On stderr: one line, `error: <what is wrong> — <what to do>`, naming the
 * option or argument involved (see error-report.ts); with `--verbose`, the details follow under
 * it, indented. With `json`: `{ ok: false, error: { name, message, … } }` on stdout, where
 * `message` is that one line and a RepairMarketError adds its `shortMessage`, `details` and
 * `cause` (see {@link RepairMarketError.toJSON}).
 */
export function reportError(err: unknown, json: boolean): void {
  const { name, line } = describeError(err);
  if (json) {
    printJson({
      ok: false,
      error: err instanceof RepairMarketError ? { name, message: line, ...err.toJSON() } : { name, message: line },
    });
  } else {
    const details = cliContext().verbose ? errorDetailLines(err) : [];
    process.stderr.write([`error: ${line}`, ...details].map((l) => `${l}\n`).join(""));
  }
}

/** Stops `daemon` cleanly on SIGINT or SIGTERM, then exits (1 if stopping failed). */
export function stopOnSignals(daemon: { stop(): Promise<void> }): void {
  const shutdown = (): void => {
    daemon.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}
