import { artifacts, ethers } from "hardhat";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { BaseContract, ContractTransactionReceipt } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Hex } from "viem";
import {
  CONTRACT_NAMES,
  type ContractName,
  type DeployedCode,
  type Deployment,
  type MarketParams,
  type RepairParams,
} from "../../actors-ts/chain/deployment";
import { InvalidArgumentError, InvalidStateError } from "../../actors-ts/core/errors";
import { ARTIFACT_OF, codeHash, readArtifactCode } from "./artifact-code";
import { deployProfile, type ProfileName } from "./deploy-profiles";
import { checkPaymentToken, checkTokenUnits } from "./payment-token";

/** Options of {@link deployAll}. */
export interface DeployOptions {
  /** The parameter profile the overrides apply to (default "devnet": today's defaults). */
  profile?: ProfileName;
  /** Use this ERC-20 instead of deploying a devnet PaymentToken; it must answer decimals() and totalSupply(). */
  paymentToken?: string;
  /** Overrides of the profile's market parameters. */
  marketParams?: Partial<Record<keyof MarketParams, string | number | bigint>>;
  /** Overrides of the profile's repair parameters. */
  repairParams?: Partial<Record<keyof RepairParams, string | number | bigint>>;
  /** Payment-channel settle delay, epochs (default: the profile's). */
  settleDelayEpochs?: bigint;
  /** Devnet token supply minted to the deployer, base units (default 10^27 = 10^9 tokens). */
  tokenSupply?: bigint;
  /** Blocks to wait past the deploy block before recording its hash (default: the profile's). */
  confirmations?: number;
  /** Longest wait for those confirmations, ms (default: 20 block times per confirmation, at least 60 s). */
  confirmationTimeoutMs?: number;
}

/**
 * Deploys every contract the agents need, in dependency order, from `deployer`, each mined before
 * the next is sent (RepairMarket's constructor calls StorageMarket). Then waits for the profile's
 * confirmations and records the deploy block's hash and each contract's runtime code hash.
 *
 * @returns Addresses, the first block to scan for events and its hash, the profile and parameters
 *   used, and per contract its code hash and artifact.
 * @throws InvalidArgumentError for an unknown parameter or profile.
 * @throws PaymentTokenRejectedError when `paymentToken` is not an ERC-20 contract.
 * @throws TokenUnitsMismatchError when its decimals are not 18 and the token amounts were not given.
 * @throws InvalidStateError when a contract has no code after deployment or confirmations time out.
 */
export async function deployAll(deployer: HardhatEthersSigner, options: DeployOptions = {}): Promise<Deployment> {
  const profile = deployProfile(options.profile ?? "devnet");
  const params = withOverrides("market", profile.marketParams, options.marketParams);
  const repairParams = withOverrides("repair", profile.repairParams, options.repairParams);
  const settleDelay = options.settleDelayEpochs ?? profile.settleDelayEpochs;
  if (options.paymentToken) {
    const token = await checkPaymentToken(ethers.provider, options.paymentToken);
    checkTokenUnits(
      token,
      options.marketParams?.faultReportBounty !== undefined && options.repairParams?.pledgePerByte !== undefined,
    );
  }
  const receipts: ContractTransactionReceipt[] = [];
  const deploy = async (name: ContractName, args: unknown[]): Promise<string> => {
    const contract: BaseContract = await ethers.deployContract(name, args, deployer);
    const receipt = await contract.deploymentTransaction()?.wait();
    if (!receipt) throw new InvalidStateError(`${name}: no receipt for its deployment`);
    receipts.push(receipt);
    return contract.getAddress();
  };
  const tokenAddress =
    options.paymentToken ??
    (await deploy("PaymentToken", ["Repair Market Test Token", "RMT", options.tokenSupply ?? 10n ** 27n]));
  const registry = await deploy("ProviderRegistry", []);
  const market = await deploy("StorageMarket", [tokenAddress, params]);
  const repair = await deploy("RepairMarket", [tokenAddress, market, repairParams]);
  const channels = await deploy("PaymentChannels", [tokenAddress, settleDelay]);
  const contracts: Record<ContractName, string> = {
    PaymentToken: tokenAddress,
    ProviderRegistry: registry,
    StorageMarket: market,
    RepairMarket: repair,
    PaymentChannels: channels,
  };
  const deployBlock = Math.min(...receipts.map((r) => r.blockNumber));
  const confirmations = options.confirmations ?? profile.confirmations;
  await waitForBlock(
    deployBlock + confirmations,
    options.confirmationTimeoutMs ?? Math.max(60_000, confirmations * profile.epochSeconds * 20_000),
  );
  const block = await ethers.provider.getBlock(deployBlock);
  if (!block?.hash) throw new InvalidStateError(`the chain has no block ${deployBlock} after deploying`);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  return {
    chainId: Number(chainId),
    profile: profile.name,
    deployBlock,
    deployBlockHash: block.hash as Hex,
    deployer: deployer.address,
    contracts,
    code: await recordCode(contracts, options.paymentToken === undefined),
    marketParams: asStrings(params),
    repairParams: asStrings(repairParams),
    settleDelayEpochs: settleDelay.toString(),
  };
}

/** Polls the head once a second until it reaches `block`. */
async function waitForBlock(block: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const head = await ethers.provider.getBlockNumber();
    if (head >= block) return;
    if (Date.now() > deadline) {
      throw new InvalidStateError(
        `waited ${timeoutMs} ms for block ${block} (head ${head}) to confirm the deployment`,
        {
          details: { block, head, hint: "the chain stalled; lower --confirmations (DEPLOY_CONFIRMATIONS) to skip" },
        },
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Each contract's runtime code hash and, for the ones built here, the artifact and build. */
async function recordCode(
  contracts: Record<ContractName, string>,
  tokenBuiltHere: boolean,
): Promise<Record<ContractName, DeployedCode>> {
  const entries = await Promise.all(
    CONTRACT_NAMES.map(async (name): Promise<[ContractName, DeployedCode]> => {
      const code = (await ethers.provider.getCode(contracts[name])) as Hex;
      if (code === "0x") throw new InvalidStateError(`no code at ${name}'s address ${contracts[name]} after deploying`);
      if (name === "PaymentToken" && !tokenBuiltHere) return [name, { codeHash: codeHash(code) }];
      const compiled = await readArtifactCode(artifacts, ARTIFACT_OF[name]);
      return [name, { codeHash: codeHash(code), artifact: compiled.artifact, buildInfo: compiled.buildInfo }];
    }),
  );
  return Object.fromEntries(entries) as Record<ContractName, DeployedCode>;
}

function withOverrides<T extends object>(
  what: string,
  defaults: T,
  overrides: Partial<Record<keyof T, string | number | bigint>> = {},
): T {
  const out = { ...defaults } as Record<string, bigint>;
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in out)) {
      throw new InvalidArgumentError(`unknown ${what} parameter "${key}"`, {
        details: { parameter: key, known: Object.keys(defaults).join(", ") },
      });
    }
    try {
      out[key] = BigInt(value as string | number | bigint);
    } catch (cause) {
      throw new InvalidArgumentError(`${what} parameter "${key}" is not an integer: ${String(value)}`, {
        details: { parameter: key },
        cause,
      });
    }
  }
  return out as T;
}

function asStrings<T extends object>(params: T): Record<keyof T, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) as Record<keyof T, string>;
}

/**
 * Writes `<dir>/<chainId>.json`.
 *
 * @returns The file's path.
 */
export function writeDeployment(deployment: Deployment, dir = "deployments"): string {
  const target = resolve(dir);
  mkdirSync(target, { recursive: true });
  const path = join(target, `${deployment.chainId}.json`);
  writeFileSync(path, JSON.stringify(deployment, null, 2) + "\n");
  return path;
}
