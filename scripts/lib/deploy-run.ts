/**
 * One deployment to the network Hardhat was started with, as `scripts/deploy.ts` (settings from
 * the environment) and `npx hardhat rm deploy` (flags, then the environment) run it: a signer,
 * the profile checked against the chain, {@link deployAll}, the file written.
 *
 * Imports `hardhat` (the runtime environment), so tasks load it inside their action.
 */
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { CONTRACT_NAMES, type Deployment } from "../../actors-ts/chain/deployment";
import { InvalidArgumentError, RepairMarketError } from "../../actors-ts/core/errors";
import { deployAll, writeDeployment, type DeployOptions } from "./deploy";
import { checkProfileChain, deployProfile } from "./deploy-profiles";
import { checkDeployerKey } from "./deployer-key";

/** The node offers no account to sign with and no DEPLOYER_KEY was given. */
export class NoDeployerAccountError extends RepairMarketError {
  override name = "NoDeployerAccountError" as const;
}

/** What to deploy and where to write it. */
export interface DeployRequest {
  /** Profile name (`--profile`, `DEPLOY_PROFILE`; default "devnet"). */
  profile: string;
  /** Deploy the profile on a chain it is not tuned for. */
  force: boolean;
  /** Directory for `<chainId>.json`. */
  outDir: string;
  /** The rest of {@link deployAll}'s options (token, overrides, confirmations). */
  options: Omit<DeployOptions, "profile">;
}

type Overrides = Record<string, string | number>;

function jsonObject(name: string, text: string | undefined): Overrides {
  if (text === undefined || text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidArgumentError(`${name} is not JSON: ${text}`, { details: { variable: name }, cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${name} must be a JSON object of parameter names and integers`, {
      details: { variable: name },
    });
  }
  return value as Overrides;
}

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`${name} must be a whole number: ${text}`);
  return Number(text);
}

/**
 * Reads a request from the environment: DEPLOY_PROFILE, DEPLOY_FORCE=1, PAYMENT_TOKEN,
 * MARKET_PARAMS and REPAIR_PARAMS (JSON), SETTLE_DELAY_EPOCHS, DEPLOY_CONFIRMATIONS,
 * DEPLOYMENTS_DIR; `flags` (a task's) win over the variables.
 *
 * @throws InvalidArgumentError when a variable is malformed.
 */
export function deployRequestFromEnv(
  env: NodeJS.ProcessEnv,
  flags: { profile?: string; force?: boolean; paymentToken?: string; outDir?: string; confirmations?: number } = {},
): DeployRequest {
  const settle = integer("SETTLE_DELAY_EPOCHS", env.SETTLE_DELAY_EPOCHS);
  return {
    profile: flags.profile ?? env.DEPLOY_PROFILE ?? "devnet",
    force: flags.force === true || env.DEPLOY_FORCE === "1",
    outDir: flags.outDir ?? env.DEPLOYMENTS_DIR ?? "deployments",
    options: {
      paymentToken: flags.paymentToken ?? (env.PAYMENT_TOKEN || undefined),
      marketParams: jsonObject("MARKET_PARAMS", env.MARKET_PARAMS),
      repairParams: jsonObject("REPAIR_PARAMS", env.REPAIR_PARAMS),
      settleDelayEpochs: settle === undefined ? undefined : BigInt(settle),
      confirmations: flags.confirmations ?? integer("DEPLOY_CONFIRMATIONS", env.DEPLOY_CONFIRMATIONS),
    },
  };
}

async function deployer(): Promise<HardhatEthersSigner> {
  const signers = await ethers.getSigners().catch(() => []);
  const first = signers[0];
  if (first === undefined) {
    throw new NoDeployerAccountError(
      "no account to deploy from: the node has none unlocked; export DEPLOYER_KEY (a funded key) and use --network custom",
    );
  }
  return first;
}

/**
 * Deploys with `request` to the network Hardhat runs against and writes the deployment file.
 *
 * @returns The deployment and the file's path.
 * @throws NoDeployerAccountError, ProfileChainMismatchError, UnknownDeployProfileError,
 *   InvalidArgumentError (DEPLOYER_KEY, parameters), PaymentTokenRejectedError,
 *   TokenUnitsMismatchError, and what {@link deployAll} throws.
 */
export async function deployToNetwork(request: DeployRequest): Promise<{ deployment: Deployment; path: string }> {
  checkDeployerKey(process.env);
  const profile = deployProfile(request.profile);
  const signer = await deployer();
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  checkProfileChain(profile, chainId, request.force);
  const deployment = await deployAll(signer, { ...request.options, profile: profile.name });
  return { deployment, path: writeDeployment(deployment, request.outDir) };
}

/** The lines `scripts/deploy.ts` and `rm deploy` print after a deployment. */
export function deploySummary(deployment: Deployment, path: string, networkName: string): string[] {
  const profile = deploymentProfileLine(deployment);
  return [
    `network ${networkName} (chain ${deployment.chainId}), deployed at block ${deployment.deployBlock} ${deployment.deployBlockHash ?? ""}`.trimEnd(),
    profile,
    ...CONTRACT_NAMES.map(
      (name) => `  ${name.padEnd(16)} ${deployment.contracts[name]}  code ${deployment.code?.[name]?.codeHash ?? "?"}`,
    ),
    ...(deployment.code?.PaymentToken?.artifact
      ? [`PaymentToken is a test token: the deployer holds its supply (npx hardhat rm fund --to 0x… hands it out)`]
      : []),
    `wrote ${path}`,
    `check it any time: npx hardhat rm verify-deployment --deployment ${path} --network ${networkName}`,
  ];
}

function deploymentProfileLine(deployment: Deployment): string {
  if (!deployment.profile) return "profile (not recorded)";
  const p = deployProfile(deployment.profile);
  const period = deployment.marketParams.provingPeriodEpochs;
  return `profile ${p.name}: ${p.summary}; proving period ${period} epochs, deployer ${deployment.deployer}`;
}
