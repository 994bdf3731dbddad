import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { startDevnet } from "../../test/helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, startDaemon } from "../../test/helpers/agents";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import { silentLogger } from "../../actors-ts/core/logger";
import { ClientStore } from "../../actors-ts/client/client-store";
import { StorageClient } from "../../actors-ts/client/storage-client";

/**
 * Stores `file` with a local provider daemon (a child process on a devnet) and times the upload:
 * first byte sent to last byte sent, the provider computing CommP as it receives (its
 * back-pressure paces the sender). Publishing the deal is not part of the figure.
 */
export async function benchStoreDirect(dir: string, file: string): Promise<{ uploadSeconds: number }> {
  const devnet = await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: "500" });
  try {
    const deployment = await deployTo(devnet, join(dir, "deployments"));
    await fundTokens(devnet, deployment, [devAddress(1), devAddress(2)], 10n ** 24n);
    const provider = await startDaemon(
      "provider",
      [
        ...["--port", "0", "--data-dir", join(dir, "provider"), "--key", devKey(2), "--rpc", devnet.rpcUrl],
        ...["--deployment", join(dir, "deployments"), "--price-per-byte-per-epoch", "0", "--collateral-per-byte", "0"],
      ],
      { LOG_LEVEL: "warn" },
    );
    try {
      const clients = await connectChain(devnet.rpcUrl, privateKeyToAccount(devKey(1)));
      const store = new ClientStore(join(dir, "client.sqlite"));
      const client = new StorageClient({ clients, contracts: contractsOf(deployment), store, logger: silentLogger });
      let first = 0;
      let last = 0;
      await client.storeFile(file, {
        provider: devAddress(2),
        durationEpochs: 1000n,
        onProgress: (e) => {
          if (e.stage !== "upload") return;
          if (first === 0) first = performance.now();
          if (e.sent === e.total) last = performance.now();
        },
      });
      store.close();
      return { uploadSeconds: (last - first) / 1000 };
    } finally {
      await provider.stop();
    }
  } finally {
    await devnet.stop();
  }
}
