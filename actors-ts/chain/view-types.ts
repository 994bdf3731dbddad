import type { Abi, ContractFunctionName, ReadContractReturnType } from "viem";
import type { paymentChannelsAbi, repairMarketAbi, storageMarketAbi } from "./generated/abis";

/** The decoded return type of view `F` of contract ABI `A`, as viem's `readContract` gives it. */
export type ViewResult<A extends Abi, F extends ContractFunctionName<A, "view" | "pure">> = ReadContractReturnType<
  A,
  F
>;

/** What StorageMarket's view `F` returns (structs as objects, integers as bigint). */
export type StorageMarketView<F extends ContractFunctionName<typeof storageMarketAbi, "view" | "pure">> = ViewResult<
  typeof storageMarketAbi,
  F
>;

/** What RepairMarket's view `F` returns. */
export type RepairMarketView<F extends ContractFunctionName<typeof repairMarketAbi, "view" | "pure">> = ViewResult<
  typeof repairMarketAbi,
  F
>;

/** What PaymentChannels' view `F` returns. */
export type PaymentChannelsView<F extends ContractFunctionName<typeof paymentChannelsAbi, "view" | "pure">> =
  ViewResult<typeof paymentChannelsAbi, F>;
