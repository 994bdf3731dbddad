/**
 * `npm run devnet`: a Hardhat node on 127.0.0.1:8545 mining a block every second (so proving
 * periods pass in real time), with the contracts deployed to `deployments/31337.json` — where
 * the CLI looks by default. Keeps running until Ctrl-C, then stops the node.
 *
 * Environment: DEVNET_PORT (8545), DEVNET_BLOCK_MS (1000), MARKET_PARAMS / REPAIR_PARAMS (JSON
 * overrides, as for scripts/deploy.ts).
 */
import { resolve } from "node:path";
import { startDevnet } from "./lib/devnet";
import { deployTo, devAddress, devKey } from "./lib/agents";

async function main(): Promise<void> {
  const port = Number(process.env.DEVNET_PORT ?? 8545);
  // Blocks on the interval only (no block per transaction), so epochs pass in real time however
  // busy the agents are (docs/decisions.md 18).
  const devnet = await startDevnet(
    [],
    { HARDHAT_INTERVAL_MINING_MS: process.env.DEVNET_BLOCK_MS ?? "1000", HARDHAT_AUTOMINE: "false" },
    port,
  );
  const stop = () => {
    void devnet.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const deployment = await deployTo(
    devnet,
    resolve("deployments"),
    JSON.parse(process.env.MARKET_PARAMS ?? "{}") as Record<string, number>,
    JSON.parse(process.env.REPAIR_PARAMS ?? "{}") as Record<string, number>,
  );
  process.stdout.write(
    [
      `devnet running at ${devnet.rpcUrl} (chain 31337), contracts in deployments/31337.json`,
      `  PaymentToken    ${deployment.contracts.PaymentToken} (account 0 holds the supply)`,
      `  StorageMarket   ${deployment.contracts.StorageMarket}`,
      `  RepairMarket    ${deployment.contracts.RepairMarket}`,
      `  PaymentChannels ${deployment.contracts.PaymentChannels}`,
      `  ProviderRegistry ${deployment.contracts.ProviderRegistry}`,
      `funded dev accounts (Hardhat's test mnemonic), e.g. account 1 = ${devAddress(1)}, key ${devKey(1)}`,
      "press Ctrl-C to stop",
      "",
    ].join("\n"),
  );
}

main().catch((err) => {
  process.stderr.write(`devnet failed: ${(err as Error).message}\n`);
  process.exit(1);
});
