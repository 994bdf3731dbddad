/**
 * One direction of an emulated wide-area link, for wan-proxy.ts: a delay line with a rate limit
 * and backpressure between two sockets.
 */
import type { Socket } from "node:net";

/**
 * When a link of a given rate is free to send again. A chunk of n bytes occupies the link
 * n · 8 / rate seconds (serialisation), so chunks leave back to back at the rate and never
 * faster: a token bucket that holds no more than the chunk in flight.
 */
export class LinkSchedule {
  /** When the link has sent everything reserved so far, `performance.now()` milliseconds. */
  private nextFreeAt = 0;

  /** @param rateBitsPerSecond Link rate in bits per second (> 0); Infinity for no limit. */
  constructor(readonly rateBitsPerSecond: number) {
    if (!(rateBitsPerSecond > 0)) throw new RangeError(`rateBitsPerSecond must be > 0, got ${rateBitsPerSecond}`);
  }

  /** Reserves the link for `bytes` and returns when their last bit has left (`performance.now()` ms). */
  transmit(bytes: number, now: number): number {
    if (this.rateBitsPerSecond === Infinity) return now;
    const start = Math.max(now, this.nextFreeAt);
    this.nextFreeAt = start + (bytes * 8 * 1000) / this.rateBitsPerSecond;
    return this.nextFreeAt;
  }
}

/** Settings of a {@link DelayLine}. */
export interface DelayLineOptions {
  /** One-way propagation delay in milliseconds, added after serialisation. */
  latencyMs: number;
  /** The link's rate; one schedule may be shared by several lines (one link, many connections). */
  schedule: LinkSchedule;
  /** Bytes queued in the line above which the source is paused; it resumes at half. */
  maxQueuedBytes: number;
  /** Chunks are cut into segments of at most this many bytes, each scheduled on its own. */
  segmentBytes: number;
}

/** What a line asks of its connection before and after each delivery. */
export interface DelayLineHooks {
  /** Bytes that may still be delivered before the connection is reset (Infinity: no reset planned). */
  allowance(): number;
  /** Called after `bytes` of a segment of `segmentBytes` were written to the destination. */
  delivered(bytes: number, segmentBytes: number): void;
}

/**
 * Moves bytes from `source` to `destination`: each segment is delivered when the link has sent it
 * (rate) plus `latencyMs` (propagation), in order. Timing is a delay line, not a sleep per chunk,
 * so a slow link still carries rate × latency bytes in flight. When more than `maxQueuedBytes`
 * wait, the source is paused (TCP backpressure to the sender) until half have gone; a destination
 * whose buffer is full holds deliveries until it drains. The source's end is passed on (half-close)
 * once everything before it was delivered.
 */
export class DelayLine {
  private readonly queue: { data: Buffer; at: number }[] = [];
  private queuedBytes = 0;
  private timer?: NodeJS.Timeout;
  private waitingForDrain = false;
  private sourcePaused = false;
  private closed = false;
  /** True once the source sent its FIN (`end`). */
  sourceEnded = false;
  /** Most bytes queued at once, for tests of the bound. */
  peakQueuedBytes = 0;

  constructor(
    private readonly source: Socket,
    private readonly destination: Socket,
    private readonly options: DelayLineOptions,
    private readonly hooks: DelayLineHooks,
  ) {
    source.on("data", (chunk: Buffer) => this.enqueue(chunk));
    source.once("end", () => {
      this.sourceEnded = true;
      if (this.timer === undefined && !this.waitingForDrain) this.pump();
    });
  }

  /** Drops everything queued and stops delivering (the destination is gone or being reset). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private enqueue(chunk: Buffer): void {
    if (this.closed) return;
    const now = performance.now();
    const { segmentBytes, schedule, latencyMs, maxQueuedBytes } = this.options;
    for (let offset = 0; offset < chunk.length; offset += segmentBytes) {
      const data = chunk.subarray(offset, offset + segmentBytes);
      this.queue.push({ data, at: schedule.transmit(data.length, now) + latencyMs });
    }
    this.queuedBytes += chunk.length;
    this.peakQueuedBytes = Math.max(this.peakQueuedBytes, this.queuedBytes);
    if (this.queuedBytes > maxQueuedBytes && !this.sourcePaused) {
      this.sourcePaused = true;
      this.source.pause();
    }
    if (this.timer === undefined && !this.waitingForDrain) this.pump();
  }

  /** Delivers every segment that is due, then arms a timer for the next one. */
  private pump(): void {
    this.timer = undefined;
    if (this.closed || this.waitingForDrain) return;
    const now = performance.now();
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (next.at > now) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(next.at - now)));
        break;
      }
      this.queue.shift();
      this.queuedBytes -= next.data.length;
      const allowed = Math.min(next.data.length, this.hooks.allowance());
      const flowing = allowed > 0 ? this.destination.write(next.data.subarray(0, allowed)) : true;
      this.hooks.delivered(allowed, next.data.length);
      if (this.closed) return;
      if (!flowing) {
        this.waitingForDrain = true;
        this.destination.once("drain", () => {
          this.waitingForDrain = false;
          this.pump();
        });
        break;
      }
    }
    if (this.sourcePaused && this.queuedBytes <= this.options.maxQueuedBytes / 2) {
      this.sourcePaused = false;
      this.source.resume();
    }
    if (this.queue.length === 0 && this.sourceEnded && !this.destination.writableEnded) this.destination.end();
  }
}
