import type { Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { sendContract } from "../send";

/**
 * `StorageMarket.reportFault`: records data set `dataSetId`'s earliest missed period for a
 * bounty (none when the caller is the set's provider).
 *
 * @returns The recorded period and whether it failed the data set.
 * @throws ContractRevertedError (NoFaultToReport, DataSetHasFailed, NoDataSet).
 */
export async function reportFault(
  clients: ChainClients,
  contracts: MarketContracts,
  dataSetId: bigint,
): Promise<{ hash: Hex; period: number; consecutiveFaults: number; failed: boolean }> {
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "reportFault",
      args: [dataSetId],
    },
    ["FaultRecorded", "DataSetFailed"],
  );
  const recorded = sent.events.find((e) => e.eventName === "FaultRecorded");
  return {
    hash: sent.hash,
    period: recorded?.eventName === "FaultRecorded" ? Number(recorded.args.period) : 0,
    consecutiveFaults: recorded?.eventName === "FaultRecorded" ? Number(recorded.args.consecutiveFaults) : 0,
    failed: sent.events.some((e) => e.eventName === "DataSetFailed"),
  };
}
