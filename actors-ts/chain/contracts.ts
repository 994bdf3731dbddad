import type { Address } from "viem";
import type { Deployment } from "./deployment";

/** Addresses of one deployment's contracts. */
export interface MarketContracts {
  token: Address;
  registry: Address;
  storageMarket: Address;
  repairMarket: Address;
  paymentChannels: Address;
}

/** The addresses in a deployment file. */
export function contractsOf(deployment: Deployment): MarketContracts {
  return {
    token: deployment.contracts.PaymentToken as Address,
    registry: deployment.contracts.ProviderRegistry as Address,
    storageMarket: deployment.contracts.StorageMarket as Address,
    repairMarket: deployment.contracts.RepairMarket as Address,
    paymentChannels: deployment.contracts.PaymentChannels as Address,
  };
}
