import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers, network } from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connectChain, type ChainClients } from "../../../actors-ts/chain/clients";
import { contractsOf, type MarketContracts } from "../../../actors-ts/chain/contracts";
import { ClientStore } from "../../../actors-ts/client/client-store";
import { silentLogger } from "../../../actors-ts/core/logger";
import { providerConfigSchema, type ProviderConfigInput } from "../../../actors-ts/provider/config";
import { ProviderDaemon } from "../../../actors-ts/provider/provider-daemon";
import { deployAll, writeDeployment } from "../../../scripts/lib/deploy";
import { devAddress, devKey } from "../../helpers/agents";

/**
 * The whole market on the in-process Hardhat network: the contracts deployed, the network served
 * over JSON-RPC on 127.0.0.1 (port 0) so daemons and CLI runs reach it, `providers` real provider
 * daemons (in this process, HTTP on port 0) and a client's database, all in one temporary
 * directory. The chain automines: a block per transaction.
 */
export interface InProcessMarket {
  dir: string;
  rpcUrl: string;
  /** `<dir>/deployments`, holding 31337.json. */
  deploymentDir: string;
  contracts: MarketContracts;
  providers: Address[];
  /** Account `clientIndex`'s viem clients. */
  clients: ChainClients;
  clientKey: `0x${string}`;
  /** The client's data dir (client.sqlite), the one `repair-market client … --data-dir` opens. */
  clientDir: string;
  store: ClientStore;
  /** URL provider i listens on (a restart changes it). */
  providerUrl(i: number): string;
  /**
   * Stops provider i and starts it again on the same data dir (its endpoint re-registered), with
   * `overrides` on top of the market's provider settings (e.g. `{ faults: { corruptReads: true } }`).
   */
  restartProvider(i: number, overrides?: InProcessProviderConfig): Promise<void>;
  /** Stops provider i (its endpoint stays registered: it is a dead holder) until a restart. */
  stopProvider(i: number): Promise<void>;
  close(): Promise<void>;
}

/** Settings every provider of an {@link InProcessMarket} gets on top of the defaults. */
export type InProcessProviderConfig = Partial<Omit<ProviderConfigInput, "dataDir" | "port" | "rpcUrl" | "deployment">>;

/** Starts {@link InProcessMarket} with providers = dev accounts 2.., client = dev account 1. */
export async function startInProcessMarket(
  providerCount: number,
  providerConfig: InProcessProviderConfig = {},
): Promise<InProcessMarket> {
  const dir = await mkdtemp(join(tmpdir(), "rm-client-market-"));
  const server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: network.provider });
  const { port } = await server.listen();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const [deployer] = await ethers.getSigners();
  const deployment = await deployAll(deployer);
  const deploymentDir = join(dir, "deployments");
  writeDeployment(deployment, deploymentDir);
  const token = await ethers.getContractAt("PaymentToken", deployment.contracts.PaymentToken);
  const providers = Array.from({ length: providerCount }, (_, i) => devAddress(2 + i));
  for (const to of [devAddress(1), ...providers]) await token.transfer(to, 10n ** 24n);
  const daemon = (i: number, overrides: InProcessProviderConfig = {}): ProviderDaemon =>
    new ProviderDaemon(
      providerConfigSchema.parse({
        publishIntervalMs: 200,
        ...providerConfig,
        ...overrides,
        dataDir: join(dir, `provider-${i}`),
        port: 0,
        rpcUrl,
        deployment: deploymentDir,
      }),
      privateKeyToAccount(devKey(2 + i)),
      silentLogger,
    );
  const daemons = providers.map((_, i) => daemon(i));
  const urls = await Promise.all(daemons.map(async (d) => (await d.start()).url));
  const clientKey = devKey(1);
  const clientDir = join(dir, "client");
  const store = new ClientStore(join(clientDir, "client.sqlite"));
  return {
    dir,
    rpcUrl,
    deploymentDir,
    contracts: contractsOf(deployment),
    providers,
    clients: await connectChain(rpcUrl, privateKeyToAccount(clientKey)),
    clientKey,
    clientDir,
    store,
    providerUrl: (i) => urls[i],
    async restartProvider(i, overrides) {
      await daemons[i].stop();
      daemons[i] = daemon(i, overrides);
      urls[i] = (await daemons[i].start()).url;
    },
    async stopProvider(i) {
      await daemons[i].stop();
    },
    async close() {
      await Promise.all(daemons.map((d) => d.stop()));
      store.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
