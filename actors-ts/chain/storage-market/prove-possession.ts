import type { Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";

/**
 * One answer of `provePossession` (see `PieceProof` in the contracts): a sha254 path from the
 * drawn leaf to the piece root, or all empty for a draw in a deal closed during the window.
 */
export interface PieceProofInput {
  termsHash: Hex;
  leaf: Hex;
  siblings: Hex[];
}

/**
 * `StorageMarket.provePossession` for the current period of data set `dataSetId`.
 *
 * @returns Transaction hash, the block it landed in, the proven period and verified challenges.
 * @throws ContractRevertedError (ChallengeWindowNotOpen, InvalidMerkleProof, …).
 */
export async function provePossession(
  clients: ChainClients,
  contracts: MarketContracts,
  dataSetId: bigint,
  proofs: PieceProofInput[],
): Promise<{ hash: Hex; blockNumber: bigint; period: number; verified: number }> {
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "provePossession",
      args: [dataSetId, proofs],
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
