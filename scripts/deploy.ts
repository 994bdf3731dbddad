/**
 * Deploys the payment token (unless PAYMENT_TOKEN names one), ProviderRegistry, StorageMarket,
 * RepairMarket and PaymentChannels with a parameter profile, and writes
 * `deployments/<chainId>.json` (addresses, deploy block and its hash, parameters, code hashes)
 * for agents to read.
 *
 *   npx hardhat run scripts/deploy.ts --network localhost
 *   DEPLOY_PROFILE=base-sepolia RPC_URL=https://… DEPLOYER_KEY=0x… npx hardhat run scripts/deploy.ts --network custom
 *
 * `npx hardhat rm deploy --profile P` does the same with flags. Environment:
 *   DEPLOY_PROFILE  devnet (default), filecoin-calibration or base-sepolia (scripts/lib/deploy-profiles.ts)
 *   DEPLOY_FORCE=1  deploy a profile on a chain other than its own
 *   RPC_URL         the node for --network localhost / custom
 *   DEPLOYER_KEY    hex private key that deploys on --network custom (the environment only)
 *   PAYMENT_TOKEN   address of an existing ERC-20 to use instead of deploying PaymentToken
 *   MARKET_PARAMS   JSON overriding StorageMarket parameters, e.g. '{"provingPeriodEpochs":10}'
 *   REPAIR_PARAMS   JSON overriding RepairMarket parameters, e.g. '{"repairWindowEpochs":60}'
 *   SETTLE_DELAY_EPOCHS   payment-channel settle delay
 *   DEPLOY_CONFIRMATIONS  blocks to wait before recording the deploy block's hash
 *   DEPLOYMENTS_DIR where to write <chainId>.json (default ./deployments)
 */
import { network } from "hardhat";
import { RepairMarketError } from "../actors-ts/core/errors";
import { deployRequestFromEnv, deploySummary, deployToNetwork } from "./lib/deploy-run";

async function main(): Promise<void> {
  const { deployment, path } = await deployToNetwork(deployRequestFromEnv(process.env));
  for (const line of deploySummary(deployment, path, network.name)) console.log(line);
}

main().catch((err: unknown) => {
  // Our errors are one message with their details; anything else keeps its stack.
  console.error(err instanceof RepairMarketError ? `deploy failed: ${err.message}` : err);
  process.exitCode = 1;
});
