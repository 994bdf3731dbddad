import type { ChildProcess } from "node:child_process";
import { formatTails, processCount, processesSince, type TrackedProcess } from "../../scripts/lib/process-log";

/**
 * Call first inside the `describe` of a multi-process suite. When one of its tests fails, the
 * tail of every process the suite started (daemons, hardhat nodes) is printed under its name, so
 * the failure explains itself (`TAIL_LINES`, default 30, sets how many lines each). After the
 * suite, every process it started that still runs — including any left behind by a test that
 * failed half-way — is stopped by pid: SIGTERM to the daemons, then to the hardhat nodes, and
 * SIGKILL (named on stderr) for any that has not exited within 20 s. The suite's own `after`
 * may stop them too; stopping an exited process is a no-op.
 */
export function superviseSuiteProcesses(): void {
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
  after(async function () {
    this.timeout(120_000);
    const running = processesSince(mark).filter((p) => isRunning(p.process));
    const nodes = running.filter((p) => p.name.startsWith("hardhat node"));
    await stopAll(running.filter((p) => !nodes.includes(p)));
    await stopAll(nodes);
  });
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function stopAll(processes: TrackedProcess[]): Promise<void> {
  await Promise.all(
    processes.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (!isRunning(p.process)) return resolve();
          const timer = setTimeout(() => {
            process.stderr.write(`killing ${p.name} (pid ${p.process.pid}): still running 20 s after SIGTERM\n`);
            p.process.kill("SIGKILL");
          }, 20_000);
          p.process.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          p.process.kill("SIGTERM");
        }),
    ),
  );
}
