import { Presets, SingleBar } from "cli-progress";

/**
 * Progress bars on stderr (cli-progress) for the client's long commands, fed by the library's
 * progress callbacks. A bar is drawn only when stderr is a terminal and the command was not asked
 * for `--json`; otherwise every call is a no-op, so nothing (no escape codes) reaches a pipe.
 */

/** A byte-counting bar that can change stage (encode → upload → commit). */
export interface ByteBar {
  /**
   * Shows `done` of `total` bytes in `stage`; a new stage or total restarts the bar.
   *
   * @param providers Providers in use, shown when given.
   */
  update(stage: string, done: number, total: number, providers?: number): void;
  /** Shows a stage without a byte count (e.g. "commit"), at 100 %. */
  mark(stage: string): void;
  /** Removes nothing, stops redrawing; safe to call twice. */
  stop(): void;
}

/** Whether bars are drawn: stderr is a terminal and the output is not JSON. */
export function barsEnabled(json: boolean | undefined): boolean {
  return !json && Boolean(process.stderr.isTTY);
}

const INERT: ByteBar = { update: () => undefined, mark: () => undefined, stop: () => undefined };

/**
 * A bar on stderr: `<stage> [████░░] 42% | 12.3/29.1 MB | 85.2 MB/s | 4 providers`, the rate
 * measured since the stage started.
 *
 * @param enabled From {@link barsEnabled}; false gives a bar that draws nothing.
 */
export function byteBar(enabled: boolean): ByteBar {
  if (!enabled) return INERT;
  const bar = new SingleBar(
    {
      format: "{stage} {bar} {percentage}% | {doneMB}/{totalMB} MB | {rate}{providers}",
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  let current: { stage: string; total: number; started: number } | undefined;
  const payload = (done: number, total: number, started: number, providers?: number) => {
    const seconds = (Date.now() - started) / 1000;
    return {
      doneMB: (done / 1e6).toFixed(1),
      totalMB: (total / 1e6).toFixed(1),
      rate: seconds > 0.2 ? `${(done / 1e6 / seconds).toFixed(1)} MB/s` : "… MB/s",
      providers: providers === undefined ? "" : ` | ${providers} provider${providers === 1 ? "" : "s"}`,
    };
  };
  return {
    update(stage, done, total, providers) {
      if (!current || current.stage !== stage || current.total !== total) {
        if (current) bar.stop();
        current = { stage, total: Math.max(total, 1), started: Date.now() };
        bar.start(current.total, 0, { stage, ...payload(0, total, current.started, providers) });
      }
      bar.update(Math.min(done, current.total), { stage, ...payload(done, total, current.started, providers) });
    },
    mark(stage) {
      if (current) bar.stop();
      current = { stage, total: 1, started: Date.now() };
      bar.start(1, 1, { stage, doneMB: "-", totalMB: "-", rate: "", providers: "" });
    },
    stop() {
      if (current) bar.stop();
      current = undefined;
    },
  };
}
