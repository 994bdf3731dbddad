import type { FileHandle } from "node:fs/promises";

/** Bytes gathered before one positional write of a fetched piece. */
const WRITE_BATCH_BYTES = 1 << 20;

/**
 * Consecutive received chunks gathered into one positional `writev` of at least
 * {@link WRITE_BATCH_BYTES} bytes (and on {@link flush}).
 */
export class WriteBatch {
  private chunks: Buffer[] = [];
  private bytes = 0;

  /** @param position File offset of the first byte added. */
  constructor(
    private readonly handle: FileHandle,
    private position: number,
  ) {}

  async add(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= WRITE_BATCH_BYTES) await this.flush();
  }

  /** Writes what was gathered. */
  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const chunks = this.chunks;
    const at = this.position;
    this.chunks = [];
    this.position += this.bytes;
    this.bytes = 0;
    let written = 0;
    const total = chunks.reduce((n, c) => n + c.length, 0);
    while (written < total) {
      const { bytesWritten } = await this.handle.writev(sliceFrom(chunks, written), at + written);
      written += bytesWritten;
    }
  }
}

/** `chunks` without their first `skip` bytes. */
function sliceFrom(chunks: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    out.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}
