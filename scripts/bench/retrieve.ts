import { createServer } from "node:http";
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import type { Hex } from "viem";
import { join } from "node:path";
import { request } from "undici";
import type { AddressInfo } from "node:net";
import { privateKeyToAccount } from "viem/accounts";
import { startDevnet } from "../../test/helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, startDaemon, type DaemonProcess } from "../../test/helpers/agents";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import { silentLogger } from "../../actors-ts/core/logger";
import { ClientStore } from "../../actors-ts/client/client-store";
import { StorageClient } from "../../actors-ts/client/storage-client";
import { RetrievalClient } from "../../actors-ts/client/retrieval/retrieval-client";
import { ErasurePool } from "../../actors-ts/erasure/erasure-pool";
import { DemoNetwork } from "../lib/demo-network";
import { benchPeakRss, benchRange, type RangeFigures } from "./range";

/**
 * Stores `file` erasure-coded (4 + 2) with six local provider daemons, then times a paid
 * whole-file retrieval by a second client, and a plain HTTP GET of the same file from one local
 * server for comparison. With `wan`, every provider and the chain sit behind a WAN proxy (40 ms
 * each way, 100 Mbit/s per connection and direction, no resets) and the plain GET is skipped.
 * With `range`, also a 1 MiB range from the middle ({@link benchRange}); with `peakRss`, the peak
 * RSS of a separate client process streaming the whole file to stdout ({@link benchPeakRss}).
 */
export async function benchRetrieve(
  dir: string,
  file: string,
  size: number,
  options: { wan?: boolean; range?: boolean; peakRss?: boolean } = {},
): Promise<{
  coldSeconds: number;
  warmSeconds: number;
  plainSeconds: number;
  range?: RangeFigures;
  peakRssMiB?: number;
}> {
  const devnet = await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: "500" });
  const providers: DaemonProcess[] = [];
  const pool = new ErasurePool();
  const network = new DemoNetwork(Boolean(options.wan), { resetProbability: 0 });
  try {
    const deployment = await deployTo(devnet, join(dir, "deployments"));
    const rpcUrl = await network.wrap(devnet.rpcUrl);
    const indices = [2, 3, 4, 5, 6, 7];
    await fundTokens(devnet, deployment, [devAddress(1), devAddress(8), ...indices.map(devAddress)], 10n ** 26n);
    providers.push(
      ...(await Promise.all(
        indices.map(async (n) =>
          startDaemon(
            "provider",
            [
              ...(await network.listenArgs()),
              ...["--data-dir", join(dir, `provider-${n}`), "--key", devKey(n), "--rpc", rpcUrl],
              ...[
                "--deployment",
                join(dir, "deployments"),
                "--price-per-byte-per-epoch",
                "0",
                "--collateral-per-byte",
                "0",
              ],
              ...["--max-unpaid-bytes", String(16 << 20), "--scrub-interval-ms", "600000"],
            ],
            { LOG_LEVEL: "warn" },
          ),
        ),
      )),
    );
    const contracts = contractsOf(deployment);
    const owner = await connectChain(rpcUrl, privateKeyToAccount(devKey(1)));
    const ownerStore = new ClientStore(join(dir, "owner.sqlite"));
    const stored = await new StorageClient({
      clients: owner,
      contracts,
      store: ownerStore,
      logger: silentLogger,
    }).storeErasureCoded(
      file,
      { k: 4, m: 2, providers: indices.map(devAddress), workDir: join(dir, "owner-work"), pool },
      { durationEpochs: 1000n },
    );
    ownerStore.close();

    const reader = await connectChain(rpcUrl, privateKeyToAccount(devKey(8)));
    const readerStore = new ClientStore(join(dir, "reader.sqlite"));
    const retrieval = new RetrievalClient({
      clients: reader,
      contracts,
      store: readerStore,
      logger: silentLogger,
      pool,
      workDir: join(dir, "reader-work"),
    });
    // Cold: the first retrieval opens and funds a payment channel to each provider.
    let started = performance.now();
    await retrieval.retrieveFile(stored.droot, join(dir, "retrieved.bin"));
    const coldSeconds = (performance.now() - started) / 1000;
    // Warm: the same reader again; its channels are reused (best of two).
    let warmSeconds = Infinity;
    for (let i = 0; i < 2; i++) {
      started = performance.now();
      await retrieval.retrieveFile(stored.droot, join(dir, `retrieved-${i}.bin`));
      warmSeconds = Math.min(warmSeconds, (performance.now() - started) / 1000);
    }
    const range = options.range ? await benchRange(retrieval, stored.droot, size) : undefined;
    readerStore.close();
    const peakRssMiB = options.peakRss ? await peakRssOf(stored.droot, file, { rpcUrl, dir }) : undefined;
    if (options.wan) return { coldSeconds, warmSeconds, plainSeconds: NaN, range, peakRssMiB };

    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-length": size });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    let plainSeconds = Infinity;
    for (let i = 0; i < 3; i++) {
      const plainStarted = performance.now();
      const res = await request(`http://127.0.0.1:${port}/`);
      for await (const chunk of res.body) void chunk;
      plainSeconds = Math.min(plainSeconds, (performance.now() - plainStarted) / 1000);
    }
    server.close();
    return { coldSeconds, warmSeconds, plainSeconds, range, peakRssMiB };
  } finally {
    await Promise.all(providers.map((p) => p.stop()));
    await pool.close();
    await network.stop();
    await devnet.stop();
  }
}

/**
 * {@link benchPeakRss} for the reader (account 8) with its own data dir.
 *
 * @throws Error when the streamed bytes do not hash to the file's SHA-256.
 */
async function peakRssOf(droot: Hex, file: string, at: { rpcUrl: string; dir: string }): Promise<number> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const sha256 = hash.digest("hex");
  const measured = await benchPeakRss(droot, sha256, {
    rpcUrl: at.rpcUrl,
    deploymentDir: join(at.dir, "deployments"),
    key: devKey(8),
    dataDir: join(at.dir, "rss-reader"),
  });
  if (!measured.hashOk) throw new Error("client retrieve --out - streamed bytes that do not hash to the file");
  return measured.peakRssMiB;
}
