import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { ChainClients } from "../../../actors-ts/chain/clients";
import type { MarketContracts } from "../../../actors-ts/chain/contracts";
import { ClientStore } from "../../../actors-ts/client/client-store";
import { RepairClient } from "../../../actors-ts/client/repair-client";
import { codingName, type FileCoding } from "../../../actors-ts/erasure/coding";
import { defaultCoding } from "../../../actors-ts/erasure/layout";
import { RetrievalClient } from "../../../actors-ts/client/retrieval/retrieval-client";
import type { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import type { SeededRandom } from "../fault-injection";
import { sha256File } from "../demo-steps";
import { writeRandomFile } from "../demo-sizing";
import type { StoredFile } from "./chain-view";

/** The soak's files: their sizes and layouts drawn from the seed, stored and retrieved. */

/** One file to store: size in bytes and its layout. */
export interface FilePlan {
  bytes: number;
  k: number;
  m: number;
  /** What `client store --repair` would pick (`defaultCoding`): Clay for most, Reed–Solomon for 2 + 1 and tiny files. */
  coding: FileCoding;
}

/**
 * Sizes (log-uniform between `minBytes` and `maxBytes`) and layouts: 10 + 4 for every third file
 * when there are at least 16 providers (14 holders and two to repair onto), 2 + 1 for every fifth
 * file, 4 + 2 otherwise.
 */
export function planFiles(
  rng: SeededRandom,
  count: number,
  providers: number,
  minBytes: number,
  maxBytes: number,
): FilePlan[] {
  return Array.from({ length: count }, (_, i) => {
    const bytes = Math.round(Math.exp(Math.log(minBytes) + rng.next() * (Math.log(maxBytes) - Math.log(minBytes))));
    const [k, m] = providers >= 16 && i % 3 === 2 ? [10, 4] : i % 5 === 4 ? [2, 1] : [4, 2];
    return { bytes, k, m, coding: defaultCoding(bytes, k, m) };
  });
}

/** Writes and stores every planned file repair-backed, one after another. */
export async function storeFiles(
  plans: FilePlan[],
  deps: { clients: ChainClients; contracts: MarketContracts; logger: Logger; pool: ErasurePool; dir: string },
  say: (line: string) => void,
): Promise<StoredFile[]> {
  const store = new ClientStore(join(deps.dir, "client", "client.sqlite"));
  const client = new RepairClient({ clients: deps.clients, contracts: deps.contracts, store, logger: deps.logger });
  const stored: StoredFile[] = [];
  try {
    for (const [i, plan] of plans.entries()) {
      const path = join(deps.dir, `file-${i}.bin`);
      await writeRandomFile(path, plan.bytes);
      const sha256 = await sha256File(path);
      const { coding } = plan;
      const r = await client.store(path, {
        k: plan.k,
        m: plan.m,
        coding,
        workDir: join(deps.dir, "client", "work"),
        pool: deps.pool,
      });
      stored.push({ dealId: r.dealId, droot: r.droot, k: plan.k, m: plan.m, bytes: plan.bytes, sha256, path });
      say(
        `stored file ${i}: ${plan.bytes} bytes as ${plan.k} + ${plan.m} ${codingName(coding)}, repair deal ${r.dealId}, droot ${r.droot}`,
      );
    }
  } finally {
    store.close();
  }
  return stored;
}

/** The outcome of retrieving one file. */
export interface RetrievalOutcome {
  intact: boolean;
  reason?: string;
  paid?: string;
}

/**
 * Retrieves `file` through paid retrieval into `dir` and compares its SHA-256 with the original's.
 * Never throws: a failure is an outcome with its reason.
 */
export async function retrieveAndCheck(
  file: StoredFile,
  deps: { clients: ChainClients; contracts: MarketContracts; logger: Logger; pool: ErasurePool; dir: string },
  timeoutMs: number,
): Promise<RetrievalOutcome> {
  const store = new ClientStore(join(deps.dir, "reader", "client.sqlite"));
  const out = join(deps.dir, "retrieved", `${file.droot}.bin`);
  let timer: NodeJS.Timeout | undefined;
  try {
    await mkdir(join(deps.dir, "retrieved"), { recursive: true });
    const retrieval = new RetrievalClient({
      clients: deps.clients,
      contracts: deps.contracts,
      store,
      logger: deps.logger,
      pool: deps.pool,
      workDir: join(deps.dir, "reader", "work"),
    }).retrieveFile(file.droot, out);
    // A retrieval that outlives its bound must not end the soak with an unhandled rejection.
    void retrieval.catch(() => undefined);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`retrieval took more than ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const result = await Promise.race([retrieval, timeout]);
    const sha = await sha256File(out);
    return sha === file.sha256
      ? { intact: true, paid: result.paid.toString() }
      : { intact: false, reason: `retrieved bytes differ: sha256 ${sha}, stored ${file.sha256}` };
  } catch (err) {
    return { intact: false, reason: `retrieval failed: ${(err as Error).message.split("\n")[0]}` };
  } finally {
    clearTimeout(timer);
    store.close();
  }
}
