import type { Address, Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";

/**
 * `StorageMarket.reportFault`: records `provider`'s earliest missed period for a bounty.
 *
 * @returns The recorded period and whether it failed the proof set.
 * @throws ContractRevertedError (NoFaultToReport, ProofSetHasFailed, NoProofSet).
 */
export async function reportFault(
  clients: ChainClients,
  contracts: MarketContracts,
  provider: Address,
): Promise<{ hash: Hex; period: number; consecutiveFaults: number; failed: boolean }> {
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "reportFault",
      args: [provider],
    },
    ["FaultRecorded", "ProofSetFailed"],
  );
  const recorded = sent.events.find((e) => e.eventName === "FaultRecorded");
  return {
    hash: sent.hash,
    period: recorded?.eventName === "FaultRecorded" ? Number(recorded.args.period) : 0,
    consecutiveFaults: recorded?.eventName === "FaultRecorded" ? Number(recorded.args.consecutiveFaults) : 0,
    failed: sent.events.some((e) => e.eventName === "ProofSetFailed"),
  };
}
