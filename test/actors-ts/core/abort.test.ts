import { expect } from "chai";
import { Wakeup, runEvery } from "../../../actors-ts/core/abort";

/** Resolves once `predicate` holds, checking on every tick notification; fails after `ms`. */
function until(predicate: () => boolean, notify: { on?: () => void }, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    const check = () => {
      if (predicate()) {
        clearTimeout(timer);
        resolve();
      }
    };
    notify.on = check;
    check();
  });
}

/** The one loop every daemon part runs in (core/abort.ts). */
describe("runEvery and Wakeup", () => {
  it("runs the next tick at once on wake(), long before the interval", async () => {
    const controller = new AbortController();
    const wakeup = new Wakeup();
    const notify: { on?: () => void } = {};
    let ticks = 0;
    // A one-hour interval: only wake() can bring the second and third ticks inside the bound.
    const loop = runEvery(
      3_600_000,
      controller.signal,
      async () => {
        ticks++;
        notify.on?.();
      },
      () => undefined,
      wakeup,
    );
    await until(() => ticks === 1, notify, 10_000, "the first tick");
    wakeup.wake();
    await until(() => ticks === 2, notify, 10_000, "the tick after a wake");
    wakeup.wake();
    await until(() => ticks === 3, notify, 10_000, "the tick after a second wake");
    controller.abort();
    await loop;
    expect(ticks).to.equal(3);
  });

  it("reports a failing tick and goes on; stops when aborted without reporting the abort", async () => {
    const controller = new AbortController();
    const wakeup = new Wakeup();
    const notify: { on?: () => void } = {};
    const errors: string[] = [];
    let ticks = 0;
    const loop = runEvery(
      3_600_000,
      controller.signal,
      async () => {
        ticks++;
        notify.on?.();
        if (ticks === 1) throw new Error("first tick fails");
        if (ticks === 2) {
          controller.abort();
          throw new Error("failed while stopping");
        }
      },
      (err) => {
        errors.push((err as Error).message);
        notify.on?.();
      },
      wakeup,
    );
    await until(() => ticks === 1 && errors.length === 1, notify, 10_000, "the first failure");
    wakeup.wake();
    await loop;
    expect([ticks, errors]).to.deep.equal([2, ["first tick fails"]]);
  });

  it("keeps a wake that comes while the loop is busy in a tick", async () => {
    const wakeup = new Wakeup();
    wakeup.wake();
    // Would take an hour without the kept wake.
    await wakeup.wait(3_600_000);
  });

  it("an abort ends a wait at once", async () => {
    const controller = new AbortController();
    const waiting = new Wakeup().wait(3_600_000, controller.signal);
    controller.abort();
    await waiting;
  });
});
