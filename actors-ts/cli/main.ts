import { statSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import { InvalidArgumentError } from "../core/errors";
import { keyFromFile } from "../core/keys";
import { clientCommand } from "./client-commands";
import { providerCommand } from "./provider-commands";
import { repairCommand } from "./repair-commands";
import { dealbotCommand } from "./dealbot-commands";
import { keyFileOption, reportError } from "./common";
import { setCliContext, type CliValue } from "./error-report";

/** Options naming a file the command reads (`-` is stdin). */
const INPUT_FILE_OPTIONS = ["config", "input"];
/** Options naming a file the command writes: its directory must exist. */
const OUTPUT_FILE_OPTIONS = ["out"];
/** Positional arguments naming a file the command reads, per command path. */
const INPUT_FILE_ARGUMENTS: Record<string, string> = { "client store": "file" };

/** The `repair-market` command line. */
export function buildProgram(): Command {
  const program = new Command("repair-market")
    .description(
      "A storage market with repair-backed durability on EVM chains.\n" +
        "Keys come from --key-file, $RM_PRIVATE_KEY or --key (a key on the command line shows in ps);\n" +
        "the chain from --rpc or $RM_RPC_URL. Errors are one line; --verbose adds the details.",
    )
    .version("0.1.0")
    .option("--verbose", "on failure, print the error's details, causes and stack under its one line")
    .addCommand(providerCommand())
    .addCommand(clientCommand())
    .addCommand(repairCommand())
    .addCommand(dealbotCommand());
  addKeyFileOptions(program);
  program.hook("preAction", (_root, action) => prepareAction(action));
  return program;
}

/** Adds `--key-file` to every command that takes `--key`. */
function addKeyFileOptions(cmd: Command): void {
  if (cmd.options.some((o) => o.long === "--key") && !cmd.options.some((o) => o.long === "--key-file")) {
    cmd.addOption(keyFileOption);
  }
  for (const sub of cmd.commands) addKeyFileOptions(sub);
}

/**
 * Before a command's action: records --verbose and the command's values for error messages,
 * loads `--key-file` into `key` (so the actions' `loadAccount(opts.key)` read it), and checks the
 * files the command names, so a missing input or output directory is one line before anything
 * connects to the chain.
 *
 * @throws InvalidArgumentError naming the file and the option or argument.
 */
function prepareAction(action: Command): void {
  const path = commandPath(action);
  const values = commandValues(action, path);
  setCliContext({ verbose: Boolean(action.optsWithGlobals().verbose), values });
  const keyFile = action.getOptionValue("keyFile") as string | undefined;
  if (keyFile !== undefined) action.setOptionValue("key", keyFromFile(keyFile, "--key-file"));
  for (const name of INPUT_FILE_OPTIONS) {
    const value = action.getOptionValue(name) as string | undefined;
    if (typeof value === "string" && value !== "-") requireFile(value, `--${kebab(name)}`);
  }
  const argName = INPUT_FILE_ARGUMENTS[path];
  const argIndex = action.registeredArguments.findIndex((a) => a.name() === argName);
  if (argIndex >= 0 && typeof action.args[argIndex] === "string") {
    requireFile(action.args[argIndex], `${path} ${argName.toUpperCase()}`);
  }
  for (const name of OUTPUT_FILE_OPTIONS) {
    const value = action.getOptionValue(name) as string | undefined;
    if (typeof value === "string") requireWritablePath(value, `--${kebab(name)}`);
  }
}

/** `client store` for the store subcommand (the root's name left out). */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** The command's positional arguments and string options, labelled as the user spells them. */
function commandValues(action: Command, path: string): CliValue[] {
  const args = action.registeredArguments.map((a, i) => ({
    label: `${path} ${a.name().toUpperCase()}`,
    value: action.args[i],
  }));
  const opts = action.options.map((o) => ({
    label: o.long ?? o.name(),
    value: action.getOptionValue(o.attributeName()),
  }));
  return [...opts, ...args].filter((v): v is CliValue => typeof v.value === "string");
}

/** @throws InvalidArgumentError unless `path` is an existing file (not a directory). */
function requireFile(path: string, label: string): void {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new InvalidArgumentError(`file not found: ${path} (${label})`, { details: { path } });
  if (stat.isDirectory()) {
    throw new InvalidArgumentError(`${path} is a directory, expected a file (${label})`, { details: { path } });
  }
}

/** @throws InvalidArgumentError when `path` is a directory or its directory does not exist. */
function requireWritablePath(path: string, label: string): void {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InvalidArgumentError(`${path} is a directory, expected a file (${label})`, { details: { path } });
  }
  const dir = statSync(dirname(path), { throwIfNoEntry: false });
  if (!dir?.isDirectory()) {
    throw new InvalidArgumentError(`directory not found: ${dirname(path)} (${label} ${path})`, {
      details: { path, hint: "create the directory first" },
    });
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Runs the CLI with `argv` (process.argv form). An error that escapes a command (one thrown while
 * parsing the arguments, or by the preAction checks) is reported like the commands' own: one
 * line, details with --verbose, a JSON error object with --json; the exit code is then 1.
 */
export async function main(argv: string[]): Promise<void> {
  setCliContext({ verbose: argv.includes("--verbose") });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    reportError(err, argv.includes("--json"));
    process.exitCode = 1;
  }
}

if (require.main === module) {
  void main(process.argv);
}
