import { readFile } from "node:fs/promises";

/**
 * Peak memory of the demo's processes: each child's high-water resident set (`VmHWM` in
 * /proc/<pid>/status, read just before the child is stopped or killed, while the kernel still
 * has it) and the demo's own (`process.resourceUsage().maxRSS`, which counts its worker threads).
 * Linux only; elsewhere the children's figures are absent.
 */

/**
 * Peak resident set of process `pid`, MiB (one decimal), or undefined when /proc cannot tell (the
 * process exited, or the system is not Linux).
 */
export async function peakRssMiB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kib = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kib === undefined ? undefined : Math.round(Number(kib) / 102.4) / 10;
}

/** The demo process's own peak resident set, MiB (one decimal). */
export function ownPeakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 102.4) / 10;
}

/** Peak resident set per role ("miner", "provider-3", "hardhat node", "demo"), MiB. */
export class PeakRss {
  private readonly peaks = new Map<string, number>();

  /** Reads `pid`'s peak now and keeps it for `role` (the larger, when read twice). */
  async record(role: string, pid: number | undefined): Promise<void> {
    const peak = await peakRssMiB(pid);
    if (peak !== undefined) this.peaks.set(role, Math.max(peak, this.peaks.get(role) ?? 0));
  }

  /** Every role's peak, the demo's own last; roles in name order (provider-2 before provider-10). */
  summary(): Record<string, number> {
    const roles = [...this.peaks.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    return { ...Object.fromEntries(roles.map((r) => [r, this.peaks.get(r)])), demo: ownPeakRssMiB() };
  }
}
