/**
 * Deploys the payment token (devnets only), ProviderRegistry and StorageMarket, and writes
 * `deployments/<chainId>.json` for agents to read.
 *
 *   npx hardhat run scripts/deploy.ts --network localhost
 *
 * Environment:
 *   PAYMENT_TOKEN   address of an existing ERC-20 to use instead of deploying PaymentToken
 *   MARKET_PARAMS   JSON overriding StorageMarket parameters, e.g. '{"provingPeriodEpochs":10}'
 *   DEPLOYMENTS_DIR where to write <chainId>.json (default ./deployments)
 */
import { ethers, network } from "hardhat";
import { deployAll, writeDeployment } from "./lib/deploy";

async function main(): Promise<void> {
  const overrides = process.env.MARKET_PARAMS ? JSON.parse(process.env.MARKET_PARAMS) : {};
  const [deployer] = await ethers.getSigners();
  const deployment = await deployAll(deployer, {
    paymentToken: process.env.PAYMENT_TOKEN,
    marketParams: overrides,
  });
  const path = writeDeployment(deployment, process.env.DEPLOYMENTS_DIR);
  console.log(`network ${network.name} (chain ${deployment.chainId}), deployed at block ${deployment.deployBlock}`);
  for (const [name, address] of Object.entries(deployment.contracts)) console.log(`  ${name.padEnd(16)} ${address}`);
  console.log(`wrote ${path}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
