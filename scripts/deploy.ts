/**
 * Deploys the payment token (devnets only), ProviderRegistry and StorageMarket, and writes
 * `deployments/<chainId>.json` for agents to read.
 *
 *   npx hardhat run scripts/deploy.ts --network localhost
 *
 * Environment:
 *   PAYMENT_TOKEN   address of an existing ERC-20 to use instead of deploying PaymentToken
 *   MARKET_PARAMS   JSON overriding StorageMarket parameters, e.g. '{"provingPeriodEpochs":10}'
 *   REPAIR_PARAMS   JSON overriding RepairMarket parameters, e.g. '{"repairWindowEpochs":60}'
 *   SETTLE_DELAY_EPOCHS  payment-channel settle delay
 *   DEPLOYMENTS_DIR where to write <chainId>.json (default ./deployments)
 */
import { ethers, network } from "hardhat";
import { deployAll, writeDeployment } from "./lib/deploy";

async function main(): Promise<void> {
  const [deployer] = await ethers.getSigners();
  const deployment = await deployAll(deployer, {
    paymentToken: process.env.PAYMENT_TOKEN,
    marketParams: process.env.MARKET_PARAMS ? JSON.parse(process.env.MARKET_PARAMS) : {},
    repairParams: process.env.REPAIR_PARAMS ? JSON.parse(process.env.REPAIR_PARAMS) : {},
    settleDelayEpochs: process.env.SETTLE_DELAY_EPOCHS ? BigInt(process.env.SETTLE_DELAY_EPOCHS) : undefined,
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
