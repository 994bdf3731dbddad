import { join } from "node:path";
import { runNode } from "../lib/devnet";

/** What one `npm run demo -- --json` run measured about its repair. */
export interface RepairFigures {
  /** Bytes downloaded for the repair divided by the piece's payload size (goal: exactly k). */
  piecesDownloaded: number;
  /** Epochs from the fault the miner saw to its `reassignPiece` transaction. */
  faultToReassignEpochs: number;
  /** Epochs from the fault to the new storage deal's first proven period (the repair confirmed). */
  faultToConfirmedEpochs: number;
  provingPeriodEpochs: number;
  /** Wall time of the whole demo run, s. */
  wallSeconds: number;
}

/**
 * Runs the demo (its own devnet, seven provider processes, a repair miner; one provider is
 * SIGKILLed and its piece repaired) with `--json` and reads the repair figures from its summary.
 * The run's data dirs stay in `.demo/<run>/`.
 *
 * @param demoArgs More demo options, e.g. `--code clay` for a Clay file's repair.
 *
 * @throws Error with the demo's output when it exits non-zero.
 */
export async function benchRepair(demoArgs: string[] = []): Promise<RepairFigures> {
  const root = join(__dirname, "..", "..");
  const tsx = require.resolve("tsx/cli", { paths: [root] });
  const { code, stdout, stderr } = await runNode([tsx, join(root, "scripts", "demo.ts"), "--json", ...demoArgs]);
  if (code !== 0) throw new Error(`demo exited ${code}:\n${stdout}${stderr}`);
  const { summary } = JSON.parse(stdout) as {
    summary: {
      piecesDownloadedForRepair: number;
      faultToReassignEpochs: number;
      faultToConfirmedRepairEpochs: number;
      provingPeriodEpochs: number;
      wallSeconds: number;
    };
  };
  return {
    piecesDownloaded: summary.piecesDownloadedForRepair,
    faultToReassignEpochs: summary.faultToReassignEpochs,
    faultToConfirmedEpochs: summary.faultToConfirmedRepairEpochs,
    provingPeriodEpochs: summary.provingPeriodEpochs,
    wallSeconds: summary.wallSeconds,
  };
}
