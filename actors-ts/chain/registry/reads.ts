import type { Address } from "viem";
import { providerRegistryAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";

/** A provider's asks as the registry stores them (token base units; sizes in padded bytes). */
export interface ProviderAsks {
  storageAsk: {
    pricePerBytePerEpoch: bigint;
    minPieceSize: bigint;
    maxPieceSize: bigint;
    collateralPerByte: bigint;
  };
  retrievalAsk: {
    pricePerByte: bigint;
    paymentIntervalBytes: bigint;
    paymentIntervalIncreaseBytes: bigint;
  };
}

/** A registered provider. */
export interface RegisteredProvider extends ProviderAsks {
  address: Address;
  endpoint: string;
  registeredAt: bigint;
}

type Reader = Pick<ChainClients, "public">;

/** One provider's entry, or undefined when it is not registered. */
export async function getProvider(
  c: Reader,
  contracts: MarketContracts,
  address: Address,
): Promise<RegisteredProvider | undefined> {
  const info = await c.public.readContract({
    address: contracts.registry,
    abi: providerRegistryAbi,
    functionName: "getProvider",
    args: [address],
  });
  if (info.registeredAt === 0n) return undefined;
  return {
    address,
    endpoint: info.endpoint,
    registeredAt: info.registeredAt,
    storageAsk: info.storageAsk,
    retrievalAsk: info.retrievalAsk,
  };
}

/** Every registered provider (paged 100 at a time). */
export async function listProviders(c: Reader, contracts: MarketContracts): Promise<RegisteredProvider[]> {
  const count = await c.public.readContract({
    address: contracts.registry,
    abi: providerRegistryAbi,
    functionName: "providerCount",
  });
  const out: RegisteredProvider[] = [];
  for (let offset = 0n; offset < count; offset += 100n) {
    const page = await c.public.readContract({
      address: contracts.registry,
      abi: providerRegistryAbi,
      functionName: "listProviders",
      args: [offset, 100n],
    });
    for (const address of page) {
      const provider = await getProvider(c, contracts, address);
      if (provider) out.push(provider);
    }
  }
  return out;
}
