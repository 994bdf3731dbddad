/**
 * `npx hardhat rm deploy` and `npx hardhat rm verify-deployment`: deploying to a node with a
 * parameter profile, and checking a deployment file against the chain. `--network localhost`
 * (RPC_URL, the node's own accounts) or `--network custom` (RPC_URL, signing with DEPLOYER_KEY
 * from the environment). Plumbing, and why modules are imported inside the actions, in tasks/lib.ts.
 */
import { types } from "hardhat/config";
import type { HardhatRuntimeEnvironment, HttpNetworkConfig } from "hardhat/types";
import { print, rm, run } from "./lib";

function requireNode(hre: HardhatRuntimeEnvironment, task: string): string {
  if (hre.network.name === "hardhat") {
    throw new Error(
      `rm ${task} talks to a running node: add --network localhost (RPC_URL=… for another URL) or --network custom (RPC_URL and DEPLOYER_KEY)`,
    );
  }
  return (hre.network.config as HttpNetworkConfig).url;
}

interface DeployArgs {
  profile?: string;
  paymentToken?: string;
  out?: string;
  confirmations?: number;
  force: boolean;
  json: boolean;
}

rm.task(
  "deploy",
  "deploy the contracts with a parameter profile and write deployments/<chainId>.json (--network custom signs with $DEPLOYER_KEY)",
)
  .addOptionalParam(
    "profile",
    "devnet, filecoin-calibration or base-sepolia (default $DEPLOY_PROFILE, else devnet)",
    undefined,
    types.string,
  )
  .addOptionalParam(
    "paymentToken",
    "an existing ERC-20 to use (default $PAYMENT_TOKEN; without one a test token is deployed)",
    undefined,
    types.string,
  )
  .addOptionalParam(
    "out",
    "directory for <chainId>.json (default $DEPLOYMENTS_DIR, else ./deployments)",
    undefined,
    types.string,
  )
  .addOptionalParam(
    "confirmations",
    "blocks to wait before recording the deploy block's hash (default: the profile's)",
    undefined,
    types.int,
  )
  .addFlag("force", "deploy a profile on a chain other than the one it is tuned for")
  .addFlag("json", "print the deployment as JSON")
  .setAction(
    run(async (args: DeployArgs, hre) => {
      requireNode(hre, "deploy");
      const { deployRequestFromEnv, deploySummary, deployToNetwork } = await import("../scripts/lib/deploy-run");
      const request = deployRequestFromEnv(process.env, {
        profile: args.profile,
        force: args.force,
        paymentToken: args.paymentToken,
        outDir: args.out,
        confirmations: args.confirmations,
      });
      const { deployment, path } = await deployToNetwork(request);
      if (args.json) print(args, { ...deployment, path });
      else process.stdout.write(`${deploySummary(deployment, path, hre.network.name).join("\n")}\n`);
    }),
  );
