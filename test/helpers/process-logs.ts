import { formatTails, processCount, processesSince } from "../../scripts/lib/process-log";

/**
 * Call inside a `describe` of a multi-process suite: when one of its tests fails, the tail of
 * every process the suite started (daemons, hardhat nodes) is printed under its name, so the
 * failure explains itself. `TAIL_LINES` (default 30) sets how many lines each.
 */
export function printProcessLogsOnFailure(): void {
  let mark = 0;
  before(() => {
    mark = processCount();
  });
  afterEach(function () {
    if (this.currentTest?.state !== "failed") return;
    const processes = processesSince(mark);
    if (processes.length === 0) return;
    const lines = Number(process.env.TAIL_LINES ?? 30);
    process.stderr.write(
      `\n===== "${this.currentTest.fullTitle()}" failed; the processes this suite started =====\n` +
        `${formatTails(processes, lines)}\n`,
    );
  });
}
