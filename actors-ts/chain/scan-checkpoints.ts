import type { Hex } from "viem";
import type { ChainClients } from "./clients";

/** A block a log scan read up to, and its hash when read. */
export interface ScanCheckpoint {
  blockNumber: bigint;
  hash: Hex;
}

/** Where the divergence of {@link ScanCheckpoints.findDivergence} lies. */
export interface ScanDivergence {
  /** The newest kept block whose hash changed. */
  changed: ScanCheckpoint;
  /** The chain's hash at that height now (null when the chain is shorter). */
  chainHash: Hex | null;
  /** The newest kept block still on the chain, if any. */
  lastGood?: ScanCheckpoint;
}

/**
 * The hashes of the last blocks a cursor-following log scan read up to (the end of each range),
 * kept in the agent's `kv` table under `key`, newest last, at most `keep` of them. Comparing the
 * newest with the chain tells whether the blocks already read were reorganised away; the older
 * ones say how far back the chain still agrees.
 */
export class ScanCheckpoints {
  constructor(
    private readonly store: { get(key: string): string | undefined; set(key: string, value: string): void },
    private readonly key: string,
    private readonly keep = 32,
  ) {}

  /** The kept checkpoints, oldest first. */
  list(): ScanCheckpoint[] {
    const raw = this.store.get(this.key);
    if (!raw) return [];
    return (JSON.parse(raw) as { b: string; h: Hex }[]).map((c) => ({ blockNumber: BigInt(c.b), hash: c.h }));
  }

  private save(list: ScanCheckpoint[]): void {
    const kept = list.slice(-this.keep).map((c) => ({ b: c.blockNumber.toString(), h: c.hash }));
    this.store.set(this.key, JSON.stringify(kept));
  }

  /** Records block `blockNumber`'s current hash as read up to. */
  async record(c: Pick<ChainClients, "public">, blockNumber: bigint): Promise<void> {
    const block = await c.public.getBlock({ blockNumber });
    if (!block.hash) return;
    this.save([...this.list().filter((p) => p.blockNumber < blockNumber), { blockNumber, hash: block.hash }]);
  }

  /**
   * Whether the newest checkpoint is still on the chain; when it is not, walks back to the newest
   * one that is, drops those after it, and says where the chain diverged.
   *
   * @returns undefined while the chain agrees (or nothing was recorded).
   */
  async findDivergence(c: Pick<ChainClients, "public">): Promise<ScanDivergence | undefined> {
    const list = this.list();
    const newest = list.at(-1);
    if (!newest) return undefined;
    const chainHash = await hashAt(c, newest.blockNumber);
    if (chainHash?.toLowerCase() === newest.hash.toLowerCase()) return undefined;
    for (let i = list.length - 2; i >= 0; i--) {
      const h = await hashAt(c, list[i].blockNumber);
      if (h?.toLowerCase() === list[i].hash.toLowerCase()) {
        this.save(list.slice(0, i + 1));
        return { changed: newest, chainHash, lastGood: list[i] };
      }
    }
    this.save([]);
    return { changed: newest, chainHash };
  }
}

async function hashAt(c: Pick<ChainClients, "public">, blockNumber: bigint): Promise<Hex | null> {
  try {
    return (await c.public.getBlock({ blockNumber })).hash;
  } catch {
    return null; // the chain is shorter than this block now
  }
}
