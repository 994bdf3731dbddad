import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { PublicClient } from "viem";
import type { MarketContracts } from "../../actors-ts/chain/contracts";
import { storageMarketAbi } from "../../actors-ts/chain/generated/abis";
import type { RepairEscrowResponse } from "../../actors-ts/protocol/repair-api";
import { getRepairEscrow } from "../../actors-ts/protocol/repair-miner-client";

/** Steps of the demo that wait on the agents or read files, kept out of its main flow. */

/**
 * Polls `probe` every 250 ms (its errors count as "not yet") until it returns a truthy value.
 *
 * @throws Error naming `what` after `timeoutMs`.
 */
export async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** SHA-256 of a file, hex, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Waits (bounded by `timeoutMs`, without throwing) until every storage deal in `replaced` is
 * closed on chain and the miner reports nothing locked for ended deals (issue 17).
 *
 * @returns The miner's escrow view, and whether it settled in time.
 */
export async function settledEscrow(
  chain: PublicClient,
  contracts: MarketContracts,
  replaced: bigint[],
  minerUrl: string,
  timeoutMs: number,
): Promise<{ escrow: RepairEscrowResponse; settled: boolean }> {
  return waitUntil("the miner's ended storage deals settled", timeoutMs, async () => {
    for (const dealId of replaced) {
      const info = await chain.readContract({
        address: contracts.storageMarket,
        abi: storageMarketAbi,
        functionName: "dealInfo",
        args: [dealId],
      });
      if (!info.closed) return undefined;
    }
    const escrow = await getRepairEscrow(minerUrl);
    return escrow.lockedForEndedDeals === "0" ? { escrow, settled: true } : undefined;
  }).catch(async () => ({ escrow: await getRepairEscrow(minerUrl), settled: false }));
}

/** Prints the summary: JSON `{ ok, timeline, summary }` with `json`, else one line per field. */
export function printSummary(
  summary: { ok: boolean } & Record<string, unknown>,
  timeline: unknown[],
  json: boolean,
): void {
  if (json) {
    process.stdout.write(JSON.stringify({ ok: summary.ok, timeline, summary }, null, 2) + "\n");
    return;
  }
  process.stdout.write("\nsummary\n");
  for (const [key, value] of Object.entries(summary))
    process.stdout.write(`  ${key.padEnd(30)} ${typeof value === "object" ? JSON.stringify(value) : String(value)}\n`);
}
