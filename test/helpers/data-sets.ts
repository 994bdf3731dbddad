import type { Address, PublicClient } from "viem";
import { storageMarketAbi } from "../../actors-ts/chain/generated/abis";
import type { StorageMarketView } from "../../actors-ts/chain/view-types";

/**
 * The state of `provider`'s newest data set that still takes deals (else its newest one): what a
 * test with one client means by "the provider's proofs". Reads `providerDataSets` and
 * `dataSetInfo` at the latest block; all fields are zero when the provider has no data set.
 */
export async function newestDataSetInfo(
  chain: Pick<PublicClient, "readContract">,
  market: Address,
  provider: Address,
): Promise<StorageMarketView<"dataSetInfo">> {
  const [ids] = await chain.readContract({
    address: market,
    abi: storageMarketAbi,
    functionName: "providerDataSets",
    args: [provider, 0n, 1000n],
  });
  const infos = await Promise.all(
    ids.map((id) =>
      chain.readContract({ address: market, abi: storageMarketAbi, functionName: "dataSetInfo", args: [id] }),
    ),
  );
  const current = infos.filter((i) => i.current);
  const pick = current.at(-1) ?? infos.at(-1);
  if (pick) return pick;
  return chain.readContract({ address: market, abi: storageMarketAbi, functionName: "dataSetInfo", args: [0n] });
}
