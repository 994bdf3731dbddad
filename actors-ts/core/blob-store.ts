import { createReadStream, existsSync, mkdirSync, readdirSync, rmSync, statSync, type ReadStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { InvalidArgumentError } from "./errors";

/**
 * A directory of immutable blobs addressed by a key (for pieces: the CommP root in hex). A blob
 * appears atomically: bytes go to a temp file, which is fsynced and renamed into place, and the
 * directory is fsynced — a crash leaves either the whole blob or nothing but a temp file, which
 * {@link BlobStore.removeTemps} clears at start-up.
 */
export class BlobStore {
  private readonly blobsDir: string;
  private readonly tempDir: string;

  /** @param root Directory owned by the store (created if missing). */
  constructor(readonly root: string) {
    this.blobsDir = join(root, "blobs");
    this.tempDir = join(root, "tmp");
    mkdirSync(this.blobsDir, { recursive: true });
    mkdirSync(this.tempDir, { recursive: true });
  }

  /** A fresh temp file path inside the store (same filesystem, so renames are atomic). */
  tempPath(): string {
    return join(this.tempDir, `${Date.now()}-${randomBytes(6).toString("hex")}.part`);
  }

  /** Where the blob `key` lives (it may not exist). */
  path(key: string): string {
    if (!/^[0-9a-zA-Z._-]{1,200}$/.test(key) || key.startsWith(".")) {
      throw new InvalidArgumentError("invalid blob key", { details: { key } });
    }
    return join(this.blobsDir, key);
  }

  has(key: string): boolean {
    return existsSync(this.path(key));
  }

  /** Blob size in bytes, or undefined when absent. */
  size(key: string): number | undefined {
    try {
      return statSync(this.path(key)).size;
    } catch {
      return undefined;
    }
  }

  /**
   * Writes `source` to a temp file, fsyncs it and moves it to `key` (replacing any old blob).
   *
   * @returns Bytes written.
   */
  async write(key: string, source: AsyncIterable<Uint8Array> | Uint8Array): Promise<number> {
    const temp = this.tempPath();
    let written = 0;
    const handle = await open(temp, "w");
    try {
      if (source instanceof Uint8Array) {
        await handle.write(source);
        written = source.length;
      } else {
        for await (const chunk of source) {
          await handle.write(chunk);
          written += chunk.length;
        }
      }
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    await this.commit(temp, key);
    return written;
  }

  /** Moves a finished temp file (already fsynced by the caller) to `key` and fsyncs the directory. */
  async commit(tempPath: string, key: string): Promise<void> {
    const handle = await open(tempPath, "r+");
    await handle.sync();
    await handle.close();
    await rename(tempPath, this.path(key));
    const dir = await open(this.blobsDir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** A read stream over [start, end] (inclusive, as `fs.createReadStream`). */
  read(key: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.path(key), range ? { start: range.start, end: range.end } : undefined);
  }

  /** Reads `length` bytes at `offset` (fewer at the end of the blob). */
  async readRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    const handle = await open(this.path(key), "r");
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  remove(key: string): void {
    rmSync(this.path(key), { force: true });
  }

  /** Deletes temp files left by an interrupted write; returns how many. */
  removeTemps(): number {
    const names = readdirSync(this.tempDir);
    for (const name of names) rmSync(join(this.tempDir, name), { force: true });
    return names.length;
  }
}
