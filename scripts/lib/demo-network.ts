import { readFile } from "node:fs/promises";
import { createPublicClient, getAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { connectChain } from "../../actors-ts/chain/clients";
import { readDeployment, type Deployment } from "../../actors-ts/chain/deployment";
import { rpcTransport } from "../../actors-ts/chain/rpc-transport";
import { tokenBalance, transferToken } from "../../actors-ts/chain/token/approve";
import { devKey } from "./agents";
import { freePort, runHardhat, startDevnet, type Devnet } from "./devnet";
import { RetryingRpcRelay } from "./rpc-relay";
import { WanProxies, type WanProxyOptions } from "./wan-proxy";

/** The keys the demo signs with, one per role (hex private keys). */
export interface DemoKeys {
  /** Deploys (when the chain has no deployment) and funds the others from its tokens. */
  deployer: Hex;
  client: Hex;
  reader: Hex;
  miner: Hex;
  providers: Hex[];
}

/** Hardhat's dev accounts: deployer 0, client 1, providers 2…, reader 18, miner 19. */
export function devKeys(providerCount: number): DemoKeys {
  return {
    deployer: devKey(0),
    client: devKey(1),
    reader: devKey(18),
    miner: devKey(19),
    providers: Array.from({ length: providerCount }, (_, i) => devKey(2 + i)),
  };
}

const hexKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a hex private key (0x and 64 hex digits)");
const keysFileSchema = z.object({
  deployer: hexKey,
  client: hexKey,
  reader: hexKey,
  miner: hexKey,
  providers: z.array(hexKey).min(1),
});

/**
 * Reads `--keys FILE`: JSON `{ "deployer", "client", "reader", "miner": "0x…", "providers": ["0x…", …] }`.
 *
 * @throws Error naming the file and the field when it does not parse or has too few providers.
 */
export async function readKeysFile(path: string, providerCount: number): Promise<DemoKeys> {
  const parsed = keysFileSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`--keys ${path}: ${issue.path.join(".") || "file"}: ${issue.message}`);
  }
  if (parsed.data.providers.length < providerCount) {
    throw new Error(`--keys ${path}: ${parsed.data.providers.length} provider keys, the demo needs ${providerCount}`);
  }
  return { ...parsed.data, providers: parsed.data.providers.slice(0, providerCount) } as DemoKeys;
}

/** The chain the demo runs on: its own devnet, or an existing endpoint (`--rpc`). */
export interface DemoChain {
  /** Where agents reach the chain (through a WAN proxy with `--wan`). */
  rpcUrl: string;
  deployment: Deployment;
  deploymentDir: string;
  /** The demo's own devnet, when it started one. */
  devnet?: Devnet;
  stop(): Promise<void>;
}

/** What {@link prepareChain} needs. */
export interface ChainPlan {
  /** An existing chain's JSON-RPC URL; absent: start a devnet mining every `blockMs`. */
  rpc?: string;
  blockMs: number;
  /** Where `<chainId>.json` is read from or written to. */
  deploymentDir: string;
  /** StorageMarket / RepairMarket parameters for a new deployment. */
  marketParams: Record<string, number>;
  repairParams: Record<string, number>;
  keys: DemoKeys;
  /** Token base units every agent account needs. */
  fundEach: bigint;
  network: DemoNetwork;
  say(event: string): Promise<void>;
}

/**
 * Starts a devnet (or takes `plan.rpc`), deploys unless `deployments/<chainId>.json` exists, and
 * tops every agent account up to `fundEach` tokens from the deployer.
 *
 * @throws Error when the endpoint does not answer or the deployer cannot fund the accounts.
 */
export async function prepareChain(plan: ChainPlan): Promise<DemoChain> {
  const devnet = plan.rpc
    ? undefined
    : await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: String(plan.blockMs), HARDHAT_AUTOMINE: "false" });
  const direct = plan.rpc ?? (devnet as Devnet).rpcUrl;
  await plan.say(
    devnet ? `devnet up at ${direct} (a block every ${plan.blockMs} ms)` : `using the chain at ${direct} (--rpc)`,
  );
  const chainId = await createPublicClient({ transport: rpcTransport(direct) }).getChainId();
  let deployment = tryReadDeployment(chainId, plan.deploymentDir);
  if (!deployment) {
    // Hardhat's deploy (ethers) does not retry a 503 or a dropped connection: it goes through a
    // local relay that does, so a flaky endpoint does not leave a half-made deployment.
    const relay = new RetryingRpcRelay(direct);
    const relayUrl = await relay.start();
    await runHardhat(["run", "scripts/deploy.ts", "--network", "custom"], {
      RPC_URL: relayUrl,
      DEPLOYER_KEY: plan.keys.deployer,
      DEPLOYMENTS_DIR: plan.deploymentDir,
      DEPLOY_PROFILE: "devnet",
      // The devnet profile on a chain other than Hardhat's: the demo's short periods, on purpose.
      DEPLOY_FORCE: chainId === 31337 ? "" : "1",
      MARKET_PARAMS: JSON.stringify(plan.marketParams),
      REPAIR_PARAMS: JSON.stringify(plan.repairParams),
    }).finally(() => relay.stop());
    deployment = readDeployment(chainId, plan.deploymentDir);
    await plan.say(`contracts deployed on chain ${chainId}`);
  } else {
    await plan.say(`using the deployment in ${plan.deploymentDir}/${chainId}.json (block ${deployment.deployBlock})`);
  }
  const rpcUrl = await plan.network.wrap(direct);
  const funded = await fundAccounts(direct, deployment, plan.keys, plan.fundEach);
  await plan.say(`${funded} accounts topped up to ${plan.fundEach} token base units`);
  return {
    rpcUrl,
    deployment,
    deploymentDir: plan.deploymentDir,
    devnet,
    async stop() {
      await devnet?.stop();
    },
  };
}

function tryReadDeployment(chainId: number, dir: string): Deployment | undefined {
  try {
    return readDeployment(chainId, dir);
  } catch {
    return undefined;
  }
}

/** Sends the deployer's tokens to every agent account below `amount`; returns how many it sent to. */
async function fundAccounts(rpc: string, deployment: Deployment, keys: DemoKeys, amount: bigint): Promise<number> {
  const deployer = await connectChain(rpc, privateKeyToAccount(keys.deployer));
  const token = getAddress(deployment.contracts.PaymentToken);
  const accounts = [keys.client, keys.reader, keys.miner, ...keys.providers].map((k) => privateKeyToAccount(k).address);
  let sent = 0;
  for (const address of accounts) {
    const balance = await tokenBalance(deployer, token, address);
    if (balance >= amount) continue;
    await transferToken(deployer, token, address, amount - balance);
    sent++;
  }
  return sent;
}

/**
 * How agents reach each other: directly on loopback, or (`--wan`) through a WAN proxy in front of
 * every agent and the chain (40 ms each way, 100 Mbit/s per link, an occasional reset).
 */
export class DemoNetwork {
  private readonly proxies?: WanProxies;

  constructor(wan: boolean, options: Omit<WanProxyOptions, "targetHost" | "targetPort" | "port"> = {}) {
    this.proxies = wan ? new WanProxies(options) : undefined;
  }

  /** The URL others use to reach `url` (a proxy's with `--wan`). */
  async wrap(url: string): Promise<string> {
    return this.proxies ? this.proxies.wrapUrl(url) : url;
  }

  /**
   * Arguments for an agent daemon that listens on a port of its own: `--port`, and with `--wan`
   * `--public-url` naming the proxy in front of it (what it registers on chain).
   */
  async listenArgs(): Promise<string[]> {
    if (!this.proxies) return ["--port", "0"];
    const port = await freePort();
    const publicUrl = await this.proxies.wrapUrl(`http://127.0.0.1:${port}`);
    return ["--port", String(port), "--public-url", publicUrl];
  }

  /** Per-target counters of the proxies (connections, bytes, resets), empty without `--wan`. */
  stats(): ReturnType<WanProxies["stats"]> | undefined {
    return this.proxies?.stats();
  }

  async stop(): Promise<void> {
    await this.proxies?.stop();
  }
}

/** The addresses of `keys.providers`. */
export function providerAddresses(keys: DemoKeys): Address[] {
  return keys.providers.map((k) => privateKeyToAccount(k).address);
}
