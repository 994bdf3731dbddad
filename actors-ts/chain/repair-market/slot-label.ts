import type { Address } from "viem";

/**
 * The label a storage deal holding piece `index` of repair deal `dealId` must carry, so that
 * RepairMarket's `assignPiece`/`reassignPiece` accept it: the same string as the contract's
 * `slotLabel(dealId, index)`, `repair-slot:<repairMarket, 0x + 40 lowercase hex>:<dealId>:<index>`
 * (decimal ids). The worker signs it into the StorageDealProposal, which binds the deal to this
 * one slot (issue 16's defence in depth behind the worker check).
 *
 * @param repairMarket RepairMarket address (any case).
 * @param dealId Repair deal id (from 1).
 * @param index Piece index in the file, 0 ≤ index < k + m.
 */
export function repairSlotLabel(repairMarket: Address, dealId: bigint, index: number): string {
  return `repair-slot:${repairMarket.toLowerCase()}:${dealId.toString()}:${index.toString()}`;
}
