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
  | { type: "hash-start"; id: number; key: string }
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
  | { id: number; type: "error"; name: string; message: string };
