import { ethers } from "hardhat";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  DEFAULT_MARKET_PARAMS,
  DEFAULT_REPAIR_PARAMS,
  DEFAULT_SETTLE_DELAY_EPOCHS,
  type Deployment,
  type MarketParams,
  type RepairParams,
} from "../../actors-ts/chain/deployment";

/** Options of {@link deployAll}. */
export interface DeployOptions {
  /** Use this ERC-20 instead of deploying a devnet PaymentToken. */
  paymentToken?: string;
  /** Overrides of {@link DEFAULT_MARKET_PARAMS}. */
  marketParams?: Partial<Record<keyof MarketParams, string | number | bigint>>;
  /** Overrides of {@link DEFAULT_REPAIR_PARAMS}. */
  repairParams?: Partial<Record<keyof RepairParams, string | number | bigint>>;
  /** Payment-channel settle delay, epochs. */
  settleDelayEpochs?: bigint;
  /** Devnet token supply minted to the deployer, base units (default 10^27 = 10^9 tokens). */
  tokenSupply?: bigint;
}

/**
 * Deploys every contract the agents need, in dependency order, from `deployer`.
 *
 * @returns Addresses, the first block to scan for events, and the parameters used.
 */
export async function deployAll(deployer: HardhatEthersSigner, options: DeployOptions = {}): Promise<Deployment> {
  const params = withOverrides("market", DEFAULT_MARKET_PARAMS, options.marketParams);
  const repairParams = withOverrides("repair", DEFAULT_REPAIR_PARAMS, options.repairParams);
  const settleDelay = options.settleDelayEpochs ?? DEFAULT_SETTLE_DELAY_EPOCHS;
  const startBlock = await ethers.provider.getBlockNumber();
  let tokenAddress = options.paymentToken;
  if (!tokenAddress) {
    const token = await ethers.deployContract(
      "PaymentToken",
      ["Repair Market Test Token", "RMT", options.tokenSupply ?? 10n ** 27n],
      deployer,
    );
    tokenAddress = await token.getAddress();
  }
  const registry = await ethers.deployContract("ProviderRegistry", [], deployer);
  const market = await ethers.deployContract(
    "StorageMarket",
    [
      tokenAddress,
      {
        provingPeriodEpochs: params.provingPeriodEpochs,
        challengeWindowEpochs: params.challengeWindowEpochs,
        challengesPerProof: params.challengesPerProof,
        maxConsecutiveFaults: params.maxConsecutiveFaults,
        declaredFaultPenaltyBps: params.declaredFaultPenaltyBps,
        reporterBountyBps: params.reporterBountyBps,
        faultReportBounty: params.faultReportBounty,
        maxDealDurationEpochs: params.maxDealDurationEpochs,
      },
    ],
    deployer,
  );
  const repair = await ethers.deployContract(
    "RepairMarket",
    [tokenAddress, await market.getAddress(), repairParams],
    deployer,
  );
  const channels = await ethers.deployContract("PaymentChannels", [tokenAddress, settleDelay], deployer);
  await channels.waitForDeployment();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  return {
    chainId: Number(chainId),
    deployBlock: startBlock + 1,
    deployer: deployer.address,
    contracts: {
      PaymentToken: tokenAddress,
      ProviderRegistry: await registry.getAddress(),
      StorageMarket: await market.getAddress(),
      RepairMarket: await repair.getAddress(),
      PaymentChannels: await channels.getAddress(),
    },
    marketParams: asStrings(params),
    repairParams: asStrings(repairParams),
    settleDelayEpochs: settleDelay.toString(),
  };
}

function withOverrides<T extends object>(
  what: string,
  defaults: T,
  overrides: Partial<Record<keyof T, string | number | bigint>> = {},
): T {
  const out = { ...defaults } as Record<string, bigint>;
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in out)) throw new Error(`unknown ${what} parameter "${key}"`);
    out[key] = BigInt(value as string | number | bigint);
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
