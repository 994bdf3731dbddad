/** Messages between {@link ErasurePool} and its workers. */

export type WorkerRequest =
  | { type: "encode"; id: number; k: number; m: number; shareSize: number; stripes: number; data: ArrayBuffer }
  | {
      type: "reconstruct";
      id: number;
      k: number;
      m: number;
      shareSize: number;
      stripes: number;
      /** One entry per share index: the piece chunk, or null when missing. */
      shares: (ArrayBuffer | null)[];
      /** Share indices to return. */
      want: number[];
    }
  | {
      /** Clay encode: as "encode", each stripe a Clay stripe of alpha sub-chunks per share. */
      type: "clay-encode";
      id: number;
      k: number;
      m: number;
      /** Clay helpers per repair (clayParams' d). */
      d: number;
      shareSize: number;
      stripes: number;
      data: ArrayBuffer;
    }
  | {
      /** Clay decode: as "reconstruct", from any k shares of each Clay stripe. */
      type: "clay-decode";
      id: number;
      k: number;
      m: number;
      d: number;
      shareSize: number;
      stripes: number;
      shares: (ArrayBuffer | null)[];
      want: number[];
    }
  | {
      /** The root of one 2^15-leaf chunk of payload (ChunkRootHasher), for a fetch's check. */
      type: "chunk-root";
      id: number;
      /** Holds the chunk's payload in its first `length` bytes; sent back with the reply. */
      data: ArrayBuffer;
      /** Payload bytes, at most 1,040,384 (a shorter chunk is zero-padded). */
      length: number;
    }
  | { type: "hash-start"; id: number; key: string }
  | { type: "sha256-start"; id: number; key: string }
  | { type: "sha256-update"; id: number; key: string; data: ArrayBuffer }
  | { type: "sha256-digest"; id: number; key: string }
  | { type: "hash-update"; key: string; data: ArrayBuffer }
  | { type: "hash-digest"; id: number; key: string };

export type WorkerReply =
  | { id: number; type: "ok" }
  | { id: number; type: "pieces"; pieces: ArrayBuffer[] }
  | {
      id: number;
      type: "digest";
      root: ArrayBuffer;
      payloadSize: number;
      paddedSize: number;
      height: number;
      pieceCid: string;
      chunkRoots: ArrayBuffer;
    }
  | { id: number; type: "sha256"; digest: string }
  | { id: number; type: "chunk-root"; root: ArrayBuffer; data: ArrayBuffer }
  | { id: number; type: "error"; name: string; message: string };
