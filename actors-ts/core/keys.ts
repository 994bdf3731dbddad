import { readFileSync } from "node:fs";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { InvalidArgumentError } from "./errors";

/**
 * Loads an agent's key. `value` is a 0x-prefixed 32-byte hex private key, or the path of a file
 * holding one (first line); when absent, the environment variable `envName` is used.
 *
 * @throws InvalidArgumentError when no key is given or it is not 32 bytes of hex.
 */
export function loadAccount(value: string | undefined, envName = "RM_PRIVATE_KEY"): PrivateKeyAccount {
  const raw = value ?? process.env[envName];
  if (!raw) {
    throw new InvalidArgumentError("no private key given", { details: { hint: `pass --key or set ${envName}` } });
  }
  let key = raw.trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    try {
      key = readFileSync(key, "utf8").split("\n")[0].trim();
    } catch (cause) {
      throw new InvalidArgumentError("--key is neither a 0x-prefixed 32-byte hex key nor a readable file", {
        cause,
      });
    }
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new InvalidArgumentError("the key file does not hold a 0x-prefixed 32-byte hex key");
  }
  return privateKeyToAccount(key as `0x${string}`);
}
