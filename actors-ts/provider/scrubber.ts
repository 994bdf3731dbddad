import { toHex } from "viem";
import { isRevert } from "../chain/contract-errors";
import { declareFaults } from "../chain/storage-market/declare-faults";
import { dataSetInfo, dealInfo } from "../chain/storage-market/reads";
import { commpOfStream } from "../piece/commp";
import type { ProviderComponents, ProviderInit } from "./components";
import type { Publisher } from "./publisher";
import { pieceKey } from "../piece/piece-intake";

/**
 * Re-verifies stored pieces and declares faults honestly (DESIGN.md "Faults"): every
 * `scrubIntervalMs` it checks each held piece is present with its size, and every
 * `deepScrubEvery` rounds recomputes its CommP from disk. A missing or corrupt piece is marked
 * lost and its open deals are declared faulty with `declareFaults` before the next challenge
 * epoch (a small penalty instead of a failed period for the whole proof set).
 */
export class Scrubber {
  private rounds = 0;

  constructor(
    private readonly c: Pick<
      ProviderComponents,
      "blobs" | "clients" | "contracts" | "logger" | "loops" | "metrics" | "store"
    >,
    private readonly init: Pick<ProviderInit, "deepScrubEvery" | "scrubIntervalMs">,
    private readonly publisher: Publisher,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    await this.c.loops.run(
      "scrubber",
      this.init.scrubIntervalMs,
      signal,
      () => this.tick(),
      (err) => this.c.logger.warn({ err }, "scrub round failed; retrying"),
    );
  }

  /** One round: verify pieces, then declare faults for lost ones when the period allows. */
  async tick(): Promise<void> {
    const { store, blobs, logger } = this.c;
    const deep = this.rounds++ % this.init.deepScrubEvery === 0;
    for (const piece of store.pieces()) {
      if (piece.status !== "ok") continue;
      const size = blobs.size(pieceKey(piece.root));
      let healthy = size === piece.payloadSize;
      if (healthy && deep) {
        const commitment = await commpOfStream(blobs.read(pieceKey(piece.root)));
        healthy = toHex(commitment.root) === piece.root.toLowerCase();
      }
      if (!healthy) {
        store.setPieceStatus(piece.root, "lost");
        logger.warn({ root: piece.root, size, expected: piece.payloadSize }, "stored piece is missing or corrupt");
      }
    }
    await this.declareLost();
  }

  private async declareLost(): Promise<void> {
    const { store, clients, contracts, logger, metrics } = this.c;
    const lost = store.pieces().filter((p) => p.status === "lost");
    if (lost.length === 0) return;
    const latest = await clients.public.getBlockNumber();
    // A declaration must be mined at or before its data set's challenge epoch; a block of margin.
    const declarableNow = new Map<bigint, boolean>();
    const canDeclare = async (dataSetId: bigint) => {
      let ok = declarableNow.get(dataSetId);
      if (ok === undefined) {
        const set = await dataSetInfo(clients, contracts, dataSetId);
        ok = set.anchorEpoch !== 0n && !set.failed && latest + 2n <= set.challengeEpoch;
        declarableNow.set(dataSetId, ok);
      }
      return ok;
    };
    for (const piece of lost) {
      const deals = store.openDealsForPiece(piece.root);
      const declarable = [];
      let waiting = false;
      for (const deal of deals) {
        const info = await dealInfo(clients, contracts, deal.dealId);
        if (info.closed || info.stateName === "Terminated" || info.stateName === "Expired") {
          store.closeDeal(deal.dealId, `lost piece; deal ${info.stateName} on chain`);
          continue;
        }
        const row = store.proposal(deal.proposalHash);
        if (!row) continue;
        if (await canDeclare(info.dataSetId)) declarable.push({ dealId: deal.dealId, proposal: row.proposal });
        else waiting = true;
      }
      if (waiting && declarable.length === 0) continue;
      if (declarable.length > 0) {
        try {
          const hash = await declareFaults(clients, contracts, declarable);
          metrics.faultsDeclared.inc(declarable.length);
          for (const d of declarable) store.closeDeal(d.dealId, "FaultDeclared");
          logger.warn({ root: piece.root, deals: declarable.map((d) => d.dealId.toString()), hash }, "faults declared");
        } catch (err) {
          if (isRevert(err, "DeclarationTooLate")) continue;
          throw err;
        }
      }
      this.publisher.releasePieceIfUnused(piece.root);
    }
  }
}
