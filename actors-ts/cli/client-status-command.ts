import type { Command } from "commander";
import { assertContractsDeployed } from "../chain/deployment-code";
import {
  getStatus,
  parseStatusTarget,
  type DealStatus,
  type DirectDealStatus,
  type FileStatus,
} from "../client/deal-status";
import { printJson, reportError } from "./common";
import { openClient, withClientOptions, type ClientOptions } from "./client-common";

/**
 * Adds `client status <dealId|droot>` (issue 17 item 9, seed 001's `GetStorageDealStatus`): one
 * deal's or file's on-chain and local state; `--json` prints the {@link DealStatus} object
 * (bigints as decimal strings), otherwise a few aligned lines.
 */
export function addStatus(parent: Command): void {
  withClientOptions(
    parent
      .command("status")
      .description("show a direct deal (by id) or a file (by droot): its on-chain state and this client's record")
      .argument("<target>", "a direct storage deal id, or a file's droot (0x and 64 hex digits)"),
  ).action(async (target: string, opts: ClientOptions) => {
    try {
      const parsed = parseStatusTarget(target);
      const { store, clients, contracts } = await openClient(opts);
      try {
        await assertContractsDeployed(clients.public, contracts);
        const status = await getStatus({ clients, contracts, store }, parsed);
        if (opts.json) printJson({ ok: true, ...status });
        else process.stdout.write(formatStatus(status).join("\n") + "\n");
      } finally {
        store.close();
      }
    } catch (err) {
      reportError(err, Boolean(opts.json));
      process.exitCode = 1;
    }
  });
}

/** `label  value` lines, labels padded to one column. */
function aligned(rows: [string, unknown][]): string[] {
  const present = rows.filter(([, v]) => v !== undefined);
  const width = Math.max(...present.map(([k]) => k.length));
  return present.map(([k, v]) => `${k.padEnd(width)}  ${String(v)}`);
}

/** The human view of a status. */
export function formatStatus(status: DealStatus): string[] {
  if (status.kind === "direct") return [...directLines(status), `${"head epoch".padEnd(10)}  ${status.headEpoch}`];
  return fileLines(status, status.headEpoch);
}

function directLines(s: DirectDealStatus): string[] {
  const c = s.chain;
  const l = s.local;
  return aligned([
    ["deal", s.dealId],
    ["state", c ? `${c.state}${c.closed ? " (closed)" : ""}` : "not on chain"],
    ["provider", c?.provider ?? l?.proposal.provider],
    ["pieceCid", l?.pieceCid ?? c?.pieceCommitment],
    ["pieceSize", c ? `${c.pieceSize} bytes` : undefined],
    ["epochs", c ? `${c.startEpoch ?? "?"} → ${c.endEpoch}` : undefined],
    ["price", c?.storagePricePerEpoch !== undefined ? `${c.storagePricePerEpoch} per epoch` : undefined],
    ["proving", c ? `${c.dataSetProvenPeriods} periods proven, ${c.consecutiveFaults} faults in a row` : undefined],
    ["local", l ? `${l.status} ${l.filePath} (${new Date(l.storedAt).toISOString()})` : "not this client's deal"],
  ]);
}

function fileLines(s: FileStatus, headEpoch: bigint): string[] {
  const lines = aligned([
    ["droot", s.droot],
    ["manifest", s.local ? `k=${s.local.k} m=${s.local.m}, ${s.local.fileSize} bytes` : "none in this client"],
    ["repair deals", s.repairDeals.length],
    ["piece deals", s.pieceDeals.length],
    ["head epoch", headEpoch],
  ]);
  for (const d of s.repairDeals) {
    const placed = d.slots.filter((x) => x.storageDealId !== 0n).length;
    lines.push(
      `  repair deal ${d.dealId}: ${d.state}, miner ${d.minerId}, ends ${d.endEpoch}, ${placed} placed, ${d.lost} lost`,
    );
    for (const x of d.slots) {
      const where = x.storageDealId === 0n ? "unplaced" : `deal ${x.storageDealId} with ${x.provider}`;
      lines.push(`    piece ${x.index}: ${where}${x.lostAtEpoch !== 0n ? `, lost at ${x.lostAtEpoch}` : ""}`);
    }
  }
  for (const d of s.pieceDeals)
    lines.push(`  deal ${d.dealId}: ${d.chain?.state ?? "not on chain"} ${d.local?.pieceCid ?? ""}`);
  return lines;
}
