/** A simulation event: what happens at `time` (hours) to `subject`, valid while `generation` matches. */
export interface SimEvent {
  time: number;
  kind: "providerFailure" | "groupFailure" | "detected" | "rebuilt" | "placed";
  /** A piece id (file × n + index), a provider or a group, by kind. */
  subject: number;
  /** The piece's generation when scheduled: a later change of the piece makes the event stale. */
  generation: number;
}

/** A binary min-heap of events by time; equal times come out in no particular order. */
export class EventQueue {
  private readonly heap: SimEvent[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: SimEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].time <= e.time) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  /** The earliest event, removed; undefined when empty. */
  pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1].time < h[l].time ? l + 1 : l;
      if (h[c].time >= last.time) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
}
