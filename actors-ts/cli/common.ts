import { homedir } from "node:os";
import { join } from "node:path";
import { Option } from "commander";
import { RepairMarketError } from "../core/errors";
import { stringifyJson } from "../core/json";
import { InvalidArgumentError } from "../core/errors";
import { ZodError } from "zod";

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
  "private key (0x-prefixed hex) or a file holding one; default $RM_PRIVATE_KEY",
);
export const deploymentOption = new Option(
  "--deployment <path>",
  "deployments/<chainId>.json, or the directory holding it",
).default("deployments");
export const jsonOption = new Option("--json", "print machine-readable JSON on stdout");

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
 * One line per problem of a failed zod parse: `port: Too big: expected number to be <=65535`
 * (the option or config field, then what is wrong), joined with "; ".
 */
export function describeZodError(err: ZodError): string {
  return err.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "input"}: ${i.message}`).join("; ");
}

/** Reports a failure: a readable message on stderr, or `{ error }` on stdout with --json. */
export function reportError(err: unknown, json: boolean): void {
  const e = err as Error;
  // A configuration that does not parse is one line naming the field, not zod's issue dump.
  const message = err instanceof ZodError ? `invalid configuration: ${describeZodError(err)}` : e.message;
  if (json) {
    printJson({
      ok: false,
      error: err instanceof RepairMarketError ? err.toJSON() : { name: e.name, message },
    });
  } else {
    process.stderr.write(`error: ${message}\n`);
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
