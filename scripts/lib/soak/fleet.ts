import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { devKey, startDaemon, type DaemonProcess } from "../agents";
import type { ChainPacer } from "../../../test/helpers/chain-pacer";
import type { TcpRelay } from "../../../test/helpers/tcp-relay";
import type { ProviderCondition } from "./chaos-plan";

/**
 * The soak's agents as child processes: providers, one repair miner and one dealbot controller,
 * all reaching the chain through a TCP relay the soak can cut. Each provider keeps its key and
 * data dir across restarts; the pacer waits for the proofs of the healthy ones only.
 */

/** Hardhat dev account indexes of the soak's fixed roles (providers take 2 … 17, then 21 …). */
export const ROLE_ACCOUNT = { deployer: 0, client: 1, reader: 18, miner: 19, dealbot: 20 } as const;

/** Dev account index of provider `i` (0-based): 2 … 17, then 21, 22, … beyond the sixteenth. */
export function providerAccountIndex(i: number): number {
  return i < 16 ? 2 + i : 21 + (i - 16);
}

/** One provider process slot: its key, data dir, process and how the soak left it. */
export interface ProviderSlot {
  name: string;
  key: Hex;
  address: Address;
  dataDir: string;
  process?: DaemonProcess;
  condition: ProviderCondition;
  /**
   * Whether the pacer waits for its proofs. Off for good once its data dir was wiped: its old
   * data sets stay live on chain and can never be proven again.
   */
  paced: boolean;
}

/** What a fleet needs. */
export interface FleetInit {
  runDir: string;
  /** The agents' RPC URL (the relay's). */
  rpcUrl: string;
  deploymentDir: string;
  relay: TcpRelay;
  pacer: ChainPacer;
  providerCount: number;
  /** Extra `repair start` arguments (pledge). */
  minerArgs: string[];
  /**
   * How long the miner leaves a provider that faulted or was unreachable out of new placements,
   * ms: its default (two minutes) is dozens of the soak's short periods, which with a handful of
   * providers would leave none to repair onto.
   */
  minerBackoffMs: number;
}

export class Fleet {
  readonly providers: ProviderSlot[];
  miner?: DaemonProcess;
  dealbot?: DaemonProcess;
  private readonly stopped: DaemonProcess[] = [];

  constructor(private readonly init: FleetInit) {
    this.providers = Array.from({ length: init.providerCount }, (_, i): ProviderSlot => {
      const key = devKey(providerAccountIndex(i));
      return {
        name: `provider-${i}`,
        key,
        address: getAddress(privateKeyToAccount(key).address),
        dataDir: join(init.runDir, `provider-${i}`),
        condition: "healthy",
        paced: true,
      };
    });
  }

  /** The slot of `address`. */
  slot(address: Address): ProviderSlot {
    const found = this.providers.find((p) => p.address === getAddress(address));
    if (!found) throw new Error(`no provider ${address} in the soak's fleet`);
    return found;
  }

  /**
   * Starts provider `p` (with `faults`, e.g. ["corrupt-reads"]); the pacer waits for its proofs
   * unless it will not prove (`stop-proving`) or is not {@link ProviderSlot.paced}.
   */
  async startProvider(p: ProviderSlot, faults: string[] = []): Promise<void> {
    const args = [
      ...["--port", "0", "--data-dir", p.dataDir, "--rpc", this.init.rpcUrl, "--deployment", this.init.deploymentDir],
      ...["--prove-interval-ms", "300", "--publish-interval-ms", "300", "--settle-interval-ms", "20000"],
      ...["--scrub-interval-ms", "600000", "--redeem-interval-ms", "30000", "--log-file", `${p.dataDir}.log`],
      ...(faults.length > 0 ? ["--fault", ...faults] : []),
    ];
    p.process = await startDaemon("provider", args, { RM_PRIVATE_KEY: p.key, LOG_LEVEL: "info" });
    if (!faults.includes("stop-proving") && p.paced) this.init.pacer.watch(p.address);
  }

  /** SIGKILLs provider `p` (the pacer stops waiting for it first). */
  async killProvider(p: ProviderSlot): Promise<void> {
    this.init.pacer.release(p.address);
    if (p.process) this.stopped.push(p.process);
    await p.process?.kill9();
    p.process = undefined;
  }

  /** SIGTERMs provider `p` and waits for it to exit. */
  async stopProvider(p: ProviderSlot): Promise<void> {
    this.init.pacer.release(p.address);
    if (p.process) this.stopped.push(p.process);
    await p.process?.stop();
    p.process = undefined;
  }

  /** Deletes provider `p`'s data dir (it must be stopped); the pacer no longer waits for it. */
  async wipe(p: ProviderSlot): Promise<void> {
    p.paced = false;
    await rm(p.dataDir, { recursive: true, force: true });
  }

  /** Starts the repair miner on its data dir. */
  async startMiner(reputationUrl?: string): Promise<void> {
    const config = join(this.init.runDir, "miner.json");
    await writeFile(config, JSON.stringify({ unreachableBackoffMs: this.init.minerBackoffMs }));
    this.miner = await startDaemon(
      "repair",
      [
        ...["--port", "0", "--data-dir", join(this.init.runDir, "miner"), "--rpc", this.init.rpcUrl],
        ...["--deployment", this.init.deploymentDir, "--watch-interval-ms", "500", "--work-interval-ms", "250"],
        ...["--confirmations", "1", "--settle-interval-ms", "5000", "--claim-interval-ms", "30000"],
        ...["--log-file", join(this.init.runDir, "miner.log"), "--config", config],
        ...(reputationUrl ? ["--reputation-url", reputationUrl] : []),
        ...this.init.minerArgs,
      ],
      { RM_PRIVATE_KEY: devKey(ROLE_ACCOUNT.miner), LOG_LEVEL: "info" },
    );
  }

  /** SIGKILLs the miner. */
  async killMiner(): Promise<void> {
    if (this.miner) this.stopped.push(this.miner);
    await this.miner?.kill9();
    this.miner = undefined;
  }

  /** Starts the dealbot controller: small storage deals and retrievals with random providers. */
  async startDealbot(storageEveryMs: number): Promise<void> {
    this.dealbot = await startDaemon(
      "dealbot",
      [
        ...["--port", "0", "--data-dir", join(this.init.runDir, "dealbot"), "--rpc", this.init.rpcUrl],
        ...["--deployment", this.init.deploymentDir, "--storage-every-ms", String(storageEveryMs)],
        ...["--retrieval-every-ms", String(Math.round(storageEveryMs / 2)), "--sizes", "65536", "262144"],
        ...["--proving-sync-every-ms", "10000", "--stall-ms", "30000", "--quiet"],
      ],
      { RM_PRIVATE_KEY: devKey(ROLE_ACCOUNT.dealbot), LOG_LEVEL: "warn" },
    );
  }

  /** Cuts the agents off the chain for `ms`, then restores the relay. */
  async chainOutage(ms: number): Promise<void> {
    await this.init.relay.cut();
    await new Promise((r) => setTimeout(r, ms));
    await this.init.relay.restore();
  }

  /** Providers that are running. */
  running(): ProviderSlot[] {
    return this.providers.filter((p) => p.process !== undefined);
  }

  /** Whether a daemon process has exited on its own (not by the soak's hand). */
  crashed(): string[] {
    const dead = (d: DaemonProcess | undefined) =>
      d !== undefined && (d.process.exitCode !== null || d.process.signalCode !== null);
    return [
      ...this.providers.filter((p) => dead(p.process)).map((p) => p.name),
      ...(dead(this.miner) ? ["repair miner"] : []),
      ...(dead(this.dealbot) ? ["dealbot"] : []),
    ];
  }

  /** Stops every process still running (the pacer stops waiting for any provider first). */
  async stopAll(): Promise<void> {
    this.init.pacer.release(...this.providers.map((p) => p.address));
    await this.dealbot?.stop();
    await this.miner?.stop();
    await Promise.all(this.providers.map((p) => p.process?.stop()));
    await Promise.all(this.stopped.map((d) => d.stop()));
  }
}
