import { dirname, resolve } from "node:path";
import {
  BaseError,
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  HttpRequestError,
  InvalidAddressError,
  TimeoutError,
} from "viem";
import { ZodError } from "zod";
import { RepairMarketError } from "../core/errors";
import { decodeContractError } from "../chain/contract-errors";

/**
 * How the CLI turns any error into one line (issue 17, item 11): `<what is wrong> — <what to
 * do>`, naming the option or argument involved when the command line shows it. The details
 * (RepairMarketError `details`, the `cause` chain, viem's `details` and `metaMessages`, the
 * stack) are only printed under `--verbose`.
 */

/** One argument or option value of the running command, to name in messages. */
export interface CliValue {
  /** How the user spells it: `client store FILE`, `--out`. */
  label: string;
  value: string;
}

/** What the running command was given; set by main's preAction hook. */
export interface CliContext {
  /** --verbose: print the details under the one line. */
  verbose: boolean;
  /** Its arguments and options with string values. */
  values: CliValue[];
}

let context: CliContext = { verbose: false, values: [] };

/** Replaces the parts of the CLI context given. */
export function setCliContext(update: Partial<CliContext>): void {
  context = { ...context, ...update };
}

/** The CLI context: --verbose and the command's values. */
export function cliContext(): CliContext {
  return context;
}

/** An error as the CLI reports it. */
export interface DescribedError {
  /** The error's class name (e.g. "InvalidAddressError"). */
  name: string;
  /** The one line, without the "error: " prefix. */
  line: string;
}

/** A Node system error (fs, net): `code` like "ENOENT", with the path(s) involved. */
interface SystemError extends Error {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
}

/** The one line for `err` (see the module comment). */
export function describeError(err: unknown): DescribedError {
  if (err instanceof ZodError) return { name: "ZodError", line: `invalid configuration: ${describeZodError(err)}` };
  const name = err instanceof Error ? err.name : "Error";
  const chain = viemLine(err);
  if (err instanceof RepairMarketError) {
    // A project error that wraps an unreachable endpoint says so in the endpoint's terms.
    const rpc = findCause(err, (e) => e instanceof HttpRequestError || e instanceof TimeoutError);
    if (rpc && !(err.name === "ContractRevertedError")) return { name, line: viemLine(rpc) ?? err.shortMessage };
    const hint = err.details.hint;
    return { name, line: hint === undefined ? err.shortMessage : `${err.shortMessage} — ${String(hint)}` };
  }
  if (chain !== undefined) return { name, line: chain };
  if (isSystemError(err)) return { name, line: systemErrorLine(err) };
  if (err instanceof Error) return { name, line: firstLine(err.message) };
  return { name, line: String(err) };
}

/**
 * One line per problem of a failed zod parse: `port: Too big: expected number to be <=65535`
 * (the option or config field, then what is wrong), joined with "; ".
 */
export function describeZodError(err: ZodError): string {
  return err.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "input"}: ${i.message}`).join("; ");
}

/** The one line for a viem error, or undefined when `err` is not one. */
function viemLine(err: unknown): string | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const address = err.walk((e) => e instanceof InvalidAddressError);
  if (address) {
    const value = /"([^"]*)"/.exec((address as BaseError).shortMessage)?.[1] ?? "";
    const where = labelOf(value, (v) => v.split(",").some((a) => a.trim() === value));
    return `invalid address "${value}"${where ? ` for ${where}` : ""} — an address is 0x and 40 hex digits`;
  }
  const http = err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError);
  if (http) return rpcLine(http as HttpRequestError | TimeoutError);
  const zeroData = err.walk((e) => e instanceof ContractFunctionZeroDataError);
  const call = err.walk((e) => e instanceof ContractFunctionExecutionError) as ContractFunctionExecutionError | null;
  if (zeroData) {
    const at = call?.contractAddress ? ` at ${call.contractAddress}` : "";
    return (
      `no contract code${at} (${call?.functionName ?? "a call"} returned no data) — ` +
      "the chain was reset or --deployment points at another chain"
    );
  }
  if (err.walk((e) => e instanceof ContractFunctionRevertedError)) {
    const decoded = decodeContractError(err, call?.contractAddress ?? "contract", call?.functionName ?? "call");
    if (decoded instanceof RepairMarketError) return decoded.shortMessage;
  }
  return firstLine(err.shortMessage);
}

/** `cannot reach the chain at URL (method): reason — what to check`. */
function rpcLine(err: HttpRequestError | TimeoutError): string {
  const body = (err as { body?: unknown }).body;
  const methods = (Array.isArray(body) ? body : [body])
    .map((b) => (b as { method?: unknown } | undefined)?.method)
    .filter((m): m is string => typeof m === "string");
  const method = methods.length > 0 ? ` (${[...new Set(methods)].join(", ")})` : "";
  const status = err instanceof HttpRequestError ? err.status : undefined;
  if (status !== undefined) {
    return `the chain's endpoint ${err.url}${method} answered HTTP ${status} — is --rpc ($RM_RPC_URL) a JSON-RPC URL?`;
  }
  const url = shownUrl(err.url);
  if (findCause(err, (e) => e instanceof Error && e.message === "bad port")) {
    // fetch never connects to the ports the Fetch standard blocks (1, 7, 9, 22, 25, …).
    const port = URL.canParse(err.url) ? new URL(err.url).port : "";
    return `cannot reach the chain at ${url}${method}: fetch refuses port ${port} (a blocked port) — use another port (--rpc, $RM_RPC_URL)`;
  }
  const reason = err instanceof TimeoutError ? "timed out" : networkReason(err);
  return `cannot reach the chain at ${url}${method}: ${reason} — is the node running? (--rpc, $RM_RPC_URL)`;
}

/** The endpoint as the user gave it: the --rpc value when it names the same URL (viem adds a "/"). */
function shownUrl(url: string): string {
  const given = context.values.find((v) => v.label === "--rpc")?.value;
  if (given !== undefined && given.replace(/\/+$/, "") === url.replace(/\/+$/, "")) return given;
  return url;
}

/** Why a request got no answer, from the socket error code in its cause chain. */
function networkReason(err: Error): string {
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host not found",
    ETIMEDOUT: "timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    UND_ERR_CONNECT_TIMEOUT: "timed out",
    UND_ERR_SOCKET: "connection closed",
  };
  const coded = findCause(err, (e) => codesOf(e).some((c) => c in reasons));
  const code = coded ? codesOf(coded).find((c) => c in reasons) : undefined;
  if (code) return reasons[code];
  return (err as BaseError).details || "no answer";
}

/** `code` of an error, and of each error of an AggregateError (Node's fetch connects to every address). */
function codesOf(e: unknown): string[] {
  const own = typeof (e as { code?: unknown }).code === "string" ? [(e as { code: string }).code] : [];
  const inner = e instanceof AggregateError ? e.errors.flatMap(codesOf) : [];
  return [...own, ...inner];
}

function isSystemError(err: unknown): err is SystemError {
  return (
    err instanceof Error && typeof (err as SystemError).code === "string" && /^E[A-Z]+$/.test((err as SystemError).code)
  );
}

/** `file not found: /x (client store FILE)`, `/tmp is a directory, expected a file`, … */
function systemErrorLine(err: SystemError): string {
  const path = err.path;
  const where = (p: string): string => {
    const label = labelOf(p, (v) => resolve(v) === resolve(p));
    return label ? ` (${label})` : "";
  };
  if (err.code === "ENOENT" && err.dest !== undefined) {
    const label = labelOf(err.dest, (v) => resolve(v) === resolve(err.dest ?? ""));
    return `directory not found: ${dirname(err.dest)}${label ? ` (${label} ${err.dest})` : ""}`;
  }
  if (path === undefined) return firstLine(err.message);
  switch (err.code) {
    case "ENOENT":
      return `file not found: ${path}${where(path)}`;
    case "EISDIR":
      return `${path} is a directory, expected a file${where(path)}`;
    case "ENOTDIR":
      return `${path}: a part of the path is not a directory${where(path)}`;
    case "EACCES":
    case "EPERM":
      return `permission denied: ${path}${where(path)}`;
    default:
      return `${err.code}: ${path}${where(path)} (${err.syscall ?? "fs"})`;
  }
}

/** The label of the first command value that `matches`, if any. */
function labelOf(value: string, matches: (v: string) => boolean): string | undefined {
  if (value === "") return undefined;
  return context.values.find((v) => matches(v.value))?.label;
}

/** The first error in `err`'s cause chain (itself included) that satisfies `fn`. */
function findCause(err: unknown, fn: (e: unknown) => boolean): Error | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 20 && e !== undefined && e !== null; depth++) {
    if (fn(e)) return e as Error;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}
