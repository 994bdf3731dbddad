import type { ChildProcess } from "node:child_process";

/** A child process started by the devnet and agent helpers, with the output it wrote. */
export interface TrackedProcess {
  /** Who it is: "provider provider-3", "repair miner", "hardhat node :8545". */
  name: string;
  process: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
}

const started: TrackedProcess[] = [];

/** Records a child process so a failing test can show what it wrote. */
export function trackProcess(entry: TrackedProcess): void {
  started.push(entry);
}

/** How many processes have been started so far (a mark for {@link processesSince}). */
export function processCount(): number {
  return started.length;
}

/** Processes started after `mark` (from {@link processCount}), oldest first. */
export function processesSince(mark: number): TrackedProcess[] {
  return started.slice(mark);
}

/**
 * The last `lines` lines of each process's output, each under a header naming the process, its
 * pid and whether it still runs. Long lines (pino JSON) are cut to `width` characters.
 */
export function formatTails(processes: TrackedProcess[], lines = 30, width = 500): string {
  return processes
    .map((p) => {
      const { exitCode, signalCode, pid } = p.process;
      const state =
        exitCode === null && signalCode === null ? "running" : `exited: code ${exitCode}, signal ${signalCode}`;
      const tail = p
        .output()
        .split("\n")
        .filter((l) => l.trim() !== "")
        .slice(-lines)
        .map((l) => (l.length > width ? `${l.slice(0, width)}…` : l));
      return [`----- ${p.name} (pid ${pid}, ${state}): last ${tail.length} lines -----`, ...tail].join("\n");
    })
    .join("\n");
}
