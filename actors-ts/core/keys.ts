import { readFileSync, statSync } from "node:fs";
import type { Hex } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { InvalidArgumentError } from "./errors";

const HEX_KEY = /^0x[0-9a-fA-F]{64}$/;

/**
 * Loads an agent's key. `value` is a 0x-prefixed 32-byte hex private key, or the path of a file
 * holding one (first line); when absent, the environment variable `envName` is used (hex, or a
 * file path). A key given as hex on a command line is visible to every user of the machine in
 * `ps` and /proc/<pid>/cmdline: prefer `--key-file` or the environment variable.
 *
 * No message ever contains the key itself, only where it came from.
 *
 * @param value The `--key` (or `--key-file`) argument, if any.
 * @param envName Environment variable read when `value` is absent.
 * @param flag The option `value` came from, named in errors (`--key` or `--key-file`).
 * @throws InvalidArgumentError when no key is given, the file is missing or a directory, or
 *   what was given is not 32 bytes of hex.
 */
export function loadAccount(value: string | undefined, envName = "RM_PRIVATE_KEY", flag = "--key"): PrivateKeyAccount {
  const fromEnv = value === undefined || value === "";
  const raw = fromEnv ? process.env[envName] : value;
  const source = fromEnv ? `$${envName}` : flag;
  if (!raw) {
    throw new InvalidArgumentError("no private key given", {
      details: { hint: `pass --key-file FILE or set ${envName} (a key on the command line shows in ps)` },
    });
  }
  const trimmed = raw.trim();
  if (!looksLikeHex(trimmed)) return privateKeyToAccount(keyFromFile(trimmed, source));
  checkKey(trimmed, source);
  return privateKeyToAccount(trimmed as Hex);
}

/**
 * The key a key file holds (its first line, trimmed).
 *
 * @param path The key file.
 * @param source The option or variable that named it, for messages (`--key-file`).
 * @throws InvalidArgumentError when the file is missing, a directory, unreadable, or does not
 *   hold a 0x-prefixed 32-byte hex key.
 */
export function keyFromFile(path: string, source = "--key-file"): Hex {
  const key = readKeyFile(path, source);
  checkKey(key, `the key file ${path} (${source})`);
  return key as Hex;
}

/** @throws InvalidArgumentError naming `what` (never the key) unless `key` is 0x and 64 hex digits. */
function checkKey(key: string, what: string): void {
  if (HEX_KEY.test(key)) return;
  throw new InvalidArgumentError(`${what} does not hold a 0x-prefixed 32-byte hex key`, {
    details: { hint: "a key is 0x and 64 hex digits", digits: key.startsWith("0x") ? key.length - 2 : key.length },
  });
}

/**
 * The first line of a key file, trimmed (not yet checked to be a key).
 *
 * @param path The key file.
 * @param source The option or variable that named it, for messages (`--key-file`).
 * @throws InvalidArgumentError when the file does not exist, is a directory or cannot be read.
 */
export function readKeyFile(path: string, source = "--key-file"): string {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) {
    throw new InvalidArgumentError(`key file not found: ${path} (${source})`, {
      details: { path, hint: "give a file holding a 0x-prefixed 32-byte hex key" },
    });
  }
  if (stat.isDirectory()) {
    throw new InvalidArgumentError(`${path} is a directory, expected a key file (${source})`, { details: { path } });
  }
  try {
    return readFileSync(path, "utf8").split("\n")[0].trim();
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read the key file ${path} (${source})`, { details: { path }, cause });
  }
}

/** True for "0x" followed only by hex digits: meant as a key, not a path (so never echoed). */
function looksLikeHex(value: string): boolean {
  return /^0x[0-9a-fA-F]*$/.test(value);
}
