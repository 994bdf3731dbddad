import { createReadStream } from "node:fs";
import { Transform } from "node:stream";
import { stat, open, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { toHex, type Hex } from "viem";
import { fileSha256 } from "../core/file-hash";
import { sleep } from "../core/abort";
import { PeerRejectedError, PeerUnreachableError, httpCall, parseJsonBody } from "../core/http-client";
import { signRequest } from "../core/signed-request";
import type { RegisteredProvider } from "../chain/registry/reads";
import { CommPHasher } from "../piece/commp";
import { PROVIDER_PATHS, uploadResponseSchema, type ProposeDealResponse } from "../protocol/provider-api";
import { PieceCommitmentMismatchError } from "./retrieval/piece-fetcher";
import { waitPublished } from "./deal-publication";
import { lookupProvider, type SignedProposal, type StorageClientComponents, type StoreOptions } from "./storage-common";

/**
 * Moving a piece's bytes between a client and a provider: the signed, streamed, retried upload of
 * a proposal's piece (seed 001 steps 4–8) and the CommP-checked download of one's own piece.
 */

/**
 * PUTs a proposal's piece (signed, streamed, optionally throttled) and returns its published
 * deal; retries up to `maxUploadAttempts` (8) while the provider is unreachable, answers 5xx or
 * is busy, looking it up in the registry again in case it moved. A 202 answer (stored, not yet
 * published) hands over to `waitPublished`.
 *
 * @throws PeerRejectedError (refused, with the provider's code), PeerUnreachableError (after the
 *   last attempt), DealNotPublishedError.
 */
export async function uploadPiece(
  c: StorageClientComponents,
  initialProvider: RegisteredProvider,
  signed: Pick<SignedProposal, "proposal" | "clientSignature" | "proposalHash">,
  accepted: ProposeDealResponse,
  filePath: string,
  options: StoreOptions,
): Promise<{ dealId: bigint; txHash: Hex }> {
  let provider = initialProvider;
  const bodySha256 = await fileSha256(filePath);
  const { size } = await stat(filePath);
  const attempts = options.maxUploadAttempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      const headers = await signRequest(c.clients.account, {
        method: "PUT",
        path: accepted.uploadPath,
        bodySha256,
        audience: provider.address,
      });
      let sent = 0;
      const file = createReadStream(filePath, { highWaterMark: options.uploadBytesPerSecond ? 64 * 1024 : 1 << 20 });
      const body = options.uploadBytesPerSecond ? file.pipe(throttle(options.uploadBytesPerSecond)) : file;
      body.on("data", (chunk: Buffer) => {
        sent += chunk.length;
        options.onProgress?.({ stage: "upload", sent, total: size, attempt });
      });
      const response = await httpCall(
        {
          method: "PUT",
          url: provider.endpoint + accepted.uploadPath,
          headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(size) },
          body,
          headersTimeoutMs: 180_000,
        },
        { peer: provider.address, stage: "upload piece" },
      );
      const text = await response.body.text();
      options.onProgress?.({ stage: "uploaded" });
      if (response.statusCode === 202) return await waitPublished(c, provider, signed, options);
      const uploaded = parseJsonBody(
        text,
        uploadResponseSchema,
        { peer: provider.address, stage: "upload piece" },
        { statusCode: response.statusCode, url: provider.endpoint + accepted.uploadPath },
      );
      return { dealId: BigInt(uploaded.dealId), txHash: uploaded.txHash };
    } catch (err) {
      const retryable =
        err instanceof PeerUnreachableError ||
        (err instanceof PeerRejectedError && (err.statusCode >= 500 || err.code === "UploadInProgress"));
      if (!retryable || attempt >= attempts) throw err;
      options.onProgress?.({ stage: "retry", attempt, error: (err as Error).message.split("\n")[0] });
      c.logger.warn({ err, attempt }, "upload failed; retrying");
      await sleep(Math.min(1000 * 2 ** (attempt - 1), 8000));
      // The provider may have moved (restarted on another port): ask the registry again.
      provider = await lookupProvider(c, provider.address).catch(() => provider);
    }
  }
}

/**
 * GETs one's own piece from `provider` (signed request, no payment), hashing its CommP while
 * streaming to a temp file beside `outPath`, renamed into place only when it matches `root`.
 *
 * @returns Bytes written.
 * @throws PieceCommitmentMismatchError when the bytes are not the piece, PeerRejectedError,
 *   PeerUnreachableError.
 */
export async function downloadPiece(
  c: StorageClientComponents,
  provider: RegisteredProvider,
  pieceCid: string,
  root: Uint8Array,
  outPath: string,
): Promise<number> {
  const path = PROVIDER_PATHS.piece(pieceCid);
  const headers = await signRequest(c.clients.account, { method: "GET", path, audience: provider.address });
  const response = await httpCall(
    { method: "GET", url: provider.endpoint + path, headers },
    { peer: provider.address, stage: "fetch piece" },
  );
  const temp = join(dirname(resolve(outPath)), `.${randomBytes(6).toString("hex")}.part`);
  const handle = await open(temp, "w");
  const hasher = new CommPHasher();
  let bytes = 0;
  try {
    for await (const chunk of response.body) {
      const data = chunk as Uint8Array;
      hasher.update(data);
      await handle.write(data);
      bytes += data.length;
    }
    const actual = hasher.digest();
    if (toHex(actual.root) !== toHex(root)) {
      throw new PieceCommitmentMismatchError("piece bytes do not match the PieceCID", {
        details: { provider: provider.address, pieceCid, actual: actual.pieceCid },
      });
    }
    await handle.sync();
    await handle.close();
    await rename(temp, outPath);
    return bytes;
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
}

/** A pass-through stream that releases at most `bytesPerSecond`. */
function throttle(bytesPerSecond: number): Transform {
  const started = Date.now();
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      passed += chunk.length;
      const due = started + (passed / bytesPerSecond) * 1000;
      setTimeout(() => done(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}
