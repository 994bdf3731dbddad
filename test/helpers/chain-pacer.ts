import { createPublicClient, getAddress, http, toFunctionSelector, type Address, type Hex } from "viem";
import { startDevnet, type Devnet } from "./devnet";
import { storageMarketAbi } from "../../actors-ts/chain/generated/abis";

/**
 * Mines a devnet from the test, one block every `blockMs`, like interval mining — except that it
 * never mines the last block of a watched provider's proof window while that provider has not
 * proven the period and has no proof waiting to be mined. A provider that is merely slow (a
 * loaded machine, a restart) therefore never misses a period; one the test kills or breaks on
 * purpose is released first (`release`) and misses as intended. A hold lasts at most `maxHoldMs`,
 * then the block is mined anyway and the hold is recorded (`timedOutHolds`), so a provider that
 * cannot prove fails the test instead of hanging it.
 *
 * The devnet must not mine on its own: start it with HARDHAT_INTERVAL_MINING_MS=0 and
 * HARDHAT_AUTOMINE=false ({@link PACED_DEVNET_ENV}).
 */
export class ChainPacer {
  private readonly client;
  private readonly watched = new Set<Address>();
  /** Per watched provider, per live data set: its window's last block and whether it is proven. */
  private readonly cache = new Map<
    Address,
    { sets: { id: bigint; deadline: bigint; proven: boolean }[]; checkedAt: bigint }
  >();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private holdSince: number | undefined;
  /** Blocks mined by this pacer. */
  mined = 0;
  /** Holds that reached `maxHoldMs`: "provider at block N", one per hold. */
  readonly timedOutHolds: string[] = [];
  /** Longest hold so far, ms. */
  longestHoldMs = 0;

  private storageMarket: Address | undefined;

  constructor(
    private readonly rpcUrl: string,
    private readonly options: { blockMs?: number; maxHoldMs?: number } = {},
  ) {
    this.client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0, timeout: 30_000 }) });
  }

  /** The StorageMarket whose proof windows are watched (once deployed). */
  setMarket(storageMarket: Address): void {
    this.storageMarket = storageMarket;
  }

  /** Holds the chain for these providers' proofs from now on. */
  watch(...providers: Address[]): void {
    for (const p of providers) this.watched.add(getAddress(p));
  }

  /** Stops holding for these providers (the test kills or breaks them on purpose). */
  release(...providers: Address[]): void {
    for (const p of providers) {
      this.watched.delete(getAddress(p));
      this.cache.delete(getAddress(p));
    }
  }

  /** Starts mining. */
  start(): void {
    this.stopped = false;
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      this.running = this.step().catch(() => undefined);
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.options.blockMs ?? 500);
    };
    void loop();
  }

  /** Stops mining (waits for a step in progress). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async step(): Promise<void> {
    // Straight from the node: viem's getBlockNumber caches for its polling interval (4 s by
    // default), long enough to step past a window's last block unseen.
    const head = BigInt((await this.rpc("eth_blockNumber", [])) as string);
    // A read that fails holds like an unproven provider would (bounded by maxHoldMs): mining
    // blindly could close a window that a live provider is about to use.
    const holder = await this.blockingProvider(head).catch(
      (err: Error) => `(proof windows unreadable: ${err.message.split("\n")[0]})`,
    );
    const now = Date.now();
    if (holder) {
      this.holdSince ??= now;
      const held = now - this.holdSince;
      this.longestHoldMs = Math.max(this.longestHoldMs, held);
      if (held < (this.options.maxHoldMs ?? 60_000)) return;
      this.timedOutHolds.push(`${holder} at block ${head + 1n}`);
    }
    this.holdSince = undefined;
    await this.rpc("evm_mine", []);
    this.mined++;
  }

  /** A watched provider whose window closes with the next block, unproven and with no proof pending. */
  private async blockingProvider(head: bigint): Promise<Address | undefined> {
    const market = this.storageMarket;
    if (!market) return undefined;
    const next = head + 1n;
    const dueSets = new Map<bigint, Address>();
    for (const provider of this.watched) {
      let known = this.cache.get(provider);
      const stale =
        !known ||
        // New data sets (a deal from a new client) are picked up within a few blocks.
        head >= known.checkedAt + (known.sets.length === 0 ? 2n : 10n) ||
        known.sets.some((set) => head > set.deadline || (!set.proven && next >= set.deadline));
      if (stale) {
        const [ids] = await this.client.readContract({
          address: market,
          abi: storageMarketAbi,
          functionName: "providerDataSets",
          args: [provider, 0n, 1000n],
        });
        const sets = [];
        for (const id of ids) {
          const info = await this.client.readContract({
            address: market,
            abi: storageMarketAbi,
            functionName: "dataSetInfo",
            args: [id],
          });
          if (info.anchorEpoch === 0n || info.failed || info.liveLeaves === 0n) continue;
          sets.push({ id, deadline: info.deadlineEpoch, proven: info.currentPeriodProven });
        }
        known = { sets, checkedAt: head };
        this.cache.set(provider, known);
      }
      for (const set of known?.sets ?? []) {
        if (!set.proven && next === set.deadline) dueSets.set(set.id, provider);
      }
    }
    if (dueSets.size === 0) return undefined;
    const pending = (await this.rpc("eth_getBlockByNumber", ["pending", true])) as {
      transactions: { from: string; to: string | null; input: Hex }[];
    };
    // provePossession(uint256 dataSetId, …): the set id is the first argument word.
    const proving = new Set(
      pending.transactions
        .filter((tx) => tx.to?.toLowerCase() === market.toLowerCase() && tx.input.startsWith(PROVE_SELECTOR))
        .map((tx) => BigInt(`0x${tx.input.slice(10, 74)}`)),
    );
    for (const [id, provider] of dueSets) if (!proving.has(id)) return provider;
    return undefined;
  }
  private async rpc(method: string, params: unknown[]): Promise<unknown> {
    const res = await fetch(this.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  }
}

const PROVE_SELECTOR = toFunctionSelector(
  storageMarketAbi.find((item) => item.type === "function" && item.name === "provePossession") as never,
);

/** Environment for `startDevnet` when a {@link ChainPacer} mines: no blocks of its own. */
export const PACED_DEVNET_ENV = { HARDHAT_INTERVAL_MINING_MS: "0", HARDHAT_AUTOMINE: "false" };

/**
 * Starts a devnet mined by a {@link ChainPacer} (already running): the returned devnet's `stop`
 * stops the pacer first. Tell the pacer the market (`setMarket`) once deployed and which
 * providers to wait for (`watch`).
 *
 * @param blockMs Milliseconds between blocks when nobody is waited for.
 */
export async function startPacedDevnet(blockMs = 500, args: string[] = []): Promise<Devnet & { pacer: ChainPacer }> {
  const devnet = await startDevnet(args, PACED_DEVNET_ENV);
  const pacer = new ChainPacer(devnet.rpcUrl, { blockMs });
  pacer.start();
  return {
    ...devnet,
    pacer,
    async stop() {
      await pacer.stop();
      await devnet.stop();
    },
  };
}
