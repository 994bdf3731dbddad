/**
 * The deployer's key for `--network custom`: `DEPLOYER_KEY` from the environment, never from the
 * command line (any user of the machine sees a process's arguments). hardhat.config.ts reads it
 * here; a malformed key is left out of the config (Hardhat would refuse every command, even
 * `compile`) and reported by the deploy itself, without echoing it.
 */
import { InvalidArgumentError } from "../../actors-ts/core/errors";

const KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/**
 * The `custom` network's accounts: `[DEPLOYER_KEY]` (0x-prefixed) when it is 32 bytes of hex,
 * otherwise "remote" (the node's own accounts: a local node's dev accounts, none on a public RPC).
 */
export function deployerAccounts(env: NodeJS.ProcessEnv): string[] | "remote" {
  const key = env.DEPLOYER_KEY?.trim();
  if (!key || !KEY.test(key)) return "remote";
  return [key.startsWith("0x") ? key : `0x${key}`];
}

/**
 * @throws InvalidArgumentError when DEPLOYER_KEY is set but is not 32 bytes of hex (the message
 *   gives its length, never its value).
 */
export function checkDeployerKey(env: NodeJS.ProcessEnv): void {
  const key = env.DEPLOYER_KEY?.trim();
  if (key === undefined || key === "" || KEY.test(key)) return;
  throw new InvalidArgumentError("DEPLOYER_KEY is not a private key: expected 64 hex digits, 0x optional", {
    details: { length: key.length },
  });
}
