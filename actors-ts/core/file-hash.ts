import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/**
 * SHA-256 of a file, streamed (constant memory).
 *
 * @returns Lower-case hex, 64 characters.
 * @throws The read stream's error (e.g. ENOENT) when the file cannot be read.
 */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
