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
import { providerConfigSchema } from "../../../actors-ts/provider/config";
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
  close(): Promise<void>;
}

/** Starts {@link InProcessMarket} with providers = dev accounts 2.., client = dev account 1. */
export async function startInProcessMarket(providerCount: number): Promise<InProcessMarket> {
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
  const daemons = providers.map(
    (_, i) =>
      new ProviderDaemon(
        providerConfigSchema.parse({
          dataDir: join(dir, `provider-${i}`),
          port: 0,
          rpcUrl,
          deployment: deploymentDir,
          publishIntervalMs: 200,
        }),
        privateKeyToAccount(devKey(2 + i)),
        silentLogger,
      ),
  );
  await Promise.all(daemons.map((d) => d.start()));
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
    async close() {
      await Promise.all(daemons.map((d) => d.stop()));
      store.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
