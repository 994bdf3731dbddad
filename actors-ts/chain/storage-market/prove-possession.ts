import type { Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";

/** One answer of `provePossession` (see `PieceProof` in the contracts). */
export interface PieceProofInput {
  /** Deal id, or `freeRangeLocator(...)` for a leaf in a freed range. */
  dealId: bigint;
  termsHash: Hex;
  leaf: Hex;
  siblings: Hex[];
}

/**
 * `StorageMarket.provePossession` for the current period of the provider's proof set.
 *
 * @returns Transaction hash, the block it landed in, the proven period and verified challenges.
 * @throws ContractRevertedError (ChallengeWindowNotOpen, InvalidMerkleProof, …).
 */
export async function provePossession(
  clients: ChainClients,
  contracts: MarketContracts,
  proofs: PieceProofInput[],
): Promise<{ hash: Hex; blockNumber: bigint; period: number; verified: number }> {
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "provePossession",
      args: [proofs],
    },
    ["PossessionProven"],
  );
  const event = sent.events[0];
  return {
    hash: sent.hash,
    blockNumber: sent.receipt.blockNumber,
    period: Number(event?.args.period ?? 0),
    verified: Number(event?.args.challengesVerified ?? 0),
  };
}
