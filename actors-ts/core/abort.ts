/**
 * Small helpers for periodic work that stops cleanly on SIGINT/SIGTERM (an AbortSignal).
 */

/** Resolves after `ms` milliseconds, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs `tick` every `intervalMs` until `signal` aborts. A tick that throws is reported to
 * `onError` and the loop goes on; ticks never overlap.
 *
 * @returns A promise that settles when the loop has stopped.
 */
export async function runEvery(
  intervalMs: number,
  signal: AbortSignal,
  tick: () => Promise<unknown>,
  onError: (err: unknown) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await tick();
    } catch (err) {
      onError(err);
    }
    await sleep(intervalMs, signal);
  }
}
