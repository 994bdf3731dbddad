import type { Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { StorageDealProposal } from "../eip712";
import { sendContract } from "../send";

/**
 * `StorageMarket.extendStorageDeal` from the deal's provider (seed 001's `UpdateStorageDeal`):
 * `extended` is `current` with a later `endEpoch` and a fresh `nonce`, signed by the client, who
 * locks the extra price. Only those two fields are sent: the contract rebuilds the rest from
 * `current`, so an `extended` that changes anything else fails as InvalidClientSignature. From
 * then on `extended` is the deal's proposal.
 *
 * @returns Transaction hash and the extra token base units the client locked.
 * @throws ContractRevertedError (InvalidExtension, DealEnded, NonceAlreadyUsed,
 *   InvalidClientSignature, InsufficientBalance, DealKeyMismatch, NotDealProvider, …).
 */
export async function extendStorageDeal(
  clients: ChainClients,
  contracts: MarketContracts,
  dealId: bigint,
  current: StorageDealProposal,
  extended: StorageDealProposal,
  clientSignature: Hex,
): Promise<{ hash: Hex; extraLocked: bigint }> {
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "extendStorageDeal",
      args: [dealId, current, extended.endEpoch, extended.nonce, clientSignature],
    },
    ["DealExtended"],
  );
  const event = sent.events[0];
  return { hash: sent.hash, extraLocked: event?.eventName === "DealExtended" ? (event.args.extraLocked ?? 0n) : 0n };
}
