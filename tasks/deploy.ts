/**
 * `npx hardhat rm deploy` and `npx hardhat rm verify-deployment`: deploying to a node with a
 * parameter profile, and checking a deployment file against the chain. `--network localhost`
 * (RPC_URL, the node's own accounts) or `--network custom` (RPC_URL, signing with DEPLOYER_KEY
 * from the environment). Plumbing, and why modules are imported inside the actions, in tasks/lib.ts.
 */
import { types } from "hardhat/config";
import { HardhatPluginError } from "hardhat/plugins";
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

rm.task(
  "verify-deployment",
  "check a deployment against the chain: code vs artifacts (immutables masked), code hashes, wiring, parameters, deploy block hash",
)
  .addOptionalParam("deployment", "deployment file or directory", "deployments", types.string)
  .addFlag("json", "print JSON instead of one line per contract")
  .setAction(
    run(async (args: { deployment: string; json: boolean }, hre) => {
      const url = requireNode(hre, "verify-deployment");
      const { createPublicClient, http } = await import("viem");
      const { loadDeployment } = await import("../actors-ts/chain/deployment");
      const { verifyDeployment, formatVerifyRows } = await import("../scripts/lib/verify-deployment");
      const client = createPublicClient({ transport: http(url, { retryCount: 2, timeout: 30_000 }) });
      const chainId = await client.getChainId();
      const deployment = loadDeployment(args.deployment, chainId);
      const rows = await verifyDeployment(client, deployment, hre.artifacts);
      if (args.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else process.stdout.write(`${formatVerifyRows(rows).join("\n")}\n`);
      const failed = rows.filter((r) => !r.ok).map((r) => r.subject);
      if (failed.length > 0) {
        throw new HardhatPluginError(
          "repair-market",
          `deployment does not match chain ${chainId}: ${failed.join(", ")} (${args.deployment})`,
        );
      }
    }),
  );
