import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Writable } from "node:stream";

/**
 * Where retrieved bytes go, in order: a file written atomically, or a stream (stdout). Writes
 * wait for the destination (back-pressure), so a slow reader bounds what is held in memory.
 */
export interface ByteSink {
  /** Appends `bytes`; resolves once the destination took them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Appends several buffers in order, in one system call where the destination allows. */
  writev?(chunks: Uint8Array[]): Promise<void>;
  /** Everything is written: a file is synced and renamed into place. */
  commit(): Promise<void>;
  /** Gives up: a file's temporary copy is removed (a stream keeps what it was sent). Never throws. */
  abort(): Promise<void>;
}

/**
 * A sink writing `outPath` atomically: to a temporary file beside it (`.<ms>-<hex>.part`),
 * fsynced and renamed into place on {@link ByteSink.commit}, removed on abort.
 *
 * @throws NodeJS.ErrnoException when the directory is not writable.
 */
export async function fileSink(outPath: string): Promise<ByteSink> {
  const temp = join(dirname(outPath), `.${Date.now()}-${randomBytes(4).toString("hex")}.part`);
  const output: FileHandle = await open(temp, "w");
  let closed = false;
  return {
    async write(bytes) {
      await output.write(bytes);
    },
    async writev(chunks) {
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const { bytesWritten } = await output.writev(chunks);
      // A short write (rare, for files) is finished from where it stopped.
      if (bytesWritten < total) await output.write(Buffer.concat(chunks).subarray(bytesWritten));
    },
    async commit() {
      await output.sync();
      await output.close();
      closed = true;
      await rename(temp, outPath);
    },
    async abort() {
      if (!closed) await output.close().catch(() => undefined);
      closed = true;
      await rm(temp, { force: true });
    },
  };
}

/**
 * A sink writing to a stream (e.g. `process.stdout`), waiting for `drain` when its buffer is
 * full; the stream is neither ended nor closed. A stream error (a closed pipe: EPIPE) fails the
 * next write.
 */
export function streamSink(stream: Writable): ByteSink {
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure ??= err;
  };
  stream.on("error", onError);
  const done = (): void => {
    stream.off("error", onError);
  };
  return {
    async write(bytes) {
      if (failure) throw failure;
      // `once` rejects when the stream errs while waiting.
      if (!stream.write(bytes)) await once(stream, "drain");
    },
    async commit() {
      done();
      if (failure) throw failure;
    },
    async abort() {
      done();
    },
  };
}
