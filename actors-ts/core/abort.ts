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
 * Lets other parts cut one loop's wait short: `wait` resolves after `ms`, when `signal` aborts, or
 * at `wake()`, whichever comes first (never rejects). A `wake()` while no wait is in progress (the
 * loop is busy in a tick) is kept, and the next `wait` returns at once, so no wake is lost.
 */
export class Wakeup {
  private waiter: (() => void) | undefined;
  private pending = false;

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || this.pending) {
        this.pending = false;
        return resolve();
      }
      let timer: NodeJS.Timeout | undefined = undefined;
      const done = (): void => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = undefined;
        signal?.removeEventListener("abort", done);
        resolve();
      };
      timer = setTimeout(done, ms);
      this.waiter = done;
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Ends the wait in progress now, or the next one as soon as it starts. */
  wake(): void {
    if (this.waiter) this.waiter();
    else this.pending = true;
  }
}

/**
 * Runs `tick` every `intervalMs` until `signal` aborts: the one loop every daemon part runs in.
 * A tick that throws is reported to `onError` (unless the loop is stopping) and the loop goes
 * on; ticks never overlap. With `wakeup`, a `wakeup.wake()` starts the next tick at once.
 *
 * @param intervalMs Wait after each tick, ms; a function is asked again after every tick (a loop
 *   that checks more often while something is wrong).
 * @returns A promise that settles when the loop has stopped.
 */
export async function runEvery(
  intervalMs: number | (() => number),
  signal: AbortSignal,
  tick: () => Promise<unknown>,
  onError: (err: unknown) => void,
  wakeup?: Wakeup,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await tick();
    } catch (err) {
      if (signal.aborted) return;
      onError(err);
    }
    const waitMs = typeof intervalMs === "number" ? intervalMs : intervalMs();
    await (wakeup ? wakeup.wait(waitMs, signal) : sleep(waitMs, signal));
  }
}
