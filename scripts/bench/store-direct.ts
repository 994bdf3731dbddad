import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { request } from "undici";
import { privateKeyToAccount } from "viem/accounts";
import { startDevnet } from "../../test/helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, startDaemon } from "../../test/helpers/agents";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import { silentLogger } from "../../actors-ts/core/logger";
import { ClientStore } from "../../actors-ts/client/client-store";
import { StorageClient } from "../../actors-ts/client/storage-client";

/**
 * The reference for `store/direct`: one plain HTTP PUT of `file` to a local server (node:http on
 * 127.0.0.1) that streams the body to a file on the same disk, checking nothing — the wire and
 * disk cost a store cannot go below. Times first byte sent to the server's answer.
 */
export async function benchPlainPut(dir: string, file: string): Promise<{ uploadSeconds: number }> {
  const target = join(dir, "plain-put.bin");
  const server = createServer((req, res) => {
    pipeline(req, createWriteStream(target)).then(
      () => res.end("ok"),
      (err: Error) => {
        res.statusCode = 500;
        res.end(err.message);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const size = (await stat(file)).size;
    const started = performance.now();
    const response = await request(`http://127.0.0.1:${port}/`, {
      method: "PUT",
      body: createReadStream(file, { highWaterMark: 1 << 20 }),
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    });
    await response.body.text();
    const seconds = (performance.now() - started) / 1000;
    if (response.statusCode !== 200 || (await stat(target)).size !== size) {
      throw new Error(`plain PUT reference failed: HTTP ${response.statusCode}`);
    }
    return { uploadSeconds: seconds };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

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
