import type { Address, Chain, PublicClient, Transport } from "viem";
import { RepairMarketError } from "../core/errors";
import type { MarketContracts } from "./contracts";

/**
 * The deployment names a contract that has no code at its address on this chain: the chain was
 * reset (a devnet restarted) under a deployment file written before, or the file is for another
 * chain with the same id.
 */
export class ContractNotDeployedError extends RepairMarketError {
  override name = "ContractNotDeployedError" as const;
}

/** Contract names as the deployment file spells them, per {@link MarketContracts} field. */
const NAMES: Record<keyof MarketContracts, string> = {
  storageMarket: "StorageMarket",
  repairMarket: "RepairMarket",
  registry: "ProviderRegistry",
  token: "PaymentToken",
  paymentChannels: "PaymentChannels",
};

/**
 * Checks that every contract of the deployment has code on the chain (one `eth_getCode` each, in
 * parallel): run once when a command loads the deployment, so a reset chain is named as such
 * instead of surfacing as a contract call that "returned no data".
 *
 * @param client A read client on the chain.
 * @param contracts The deployment's addresses.
 * @throws ContractNotDeployedError for the first contract (StorageMarket first) without code.
 */
export async function assertContractsDeployed(
  client: PublicClient<Transport, Chain>,
  contracts: MarketContracts,
): Promise<void> {
  const fields = Object.keys(NAMES) as (keyof MarketContracts)[];
  const codes = await Promise.all(fields.map((f) => client.getCode({ address: contracts[f] as Address })));
  const missing = fields.findIndex((_, i) => codes[i] === undefined || codes[i] === "0x");
  if (missing < 0) return;
  const field = fields[missing];
  const chainId = client.chain.id;
  throw new ContractNotDeployedError(
    `no ${NAMES[field]} contract at ${contracts[field]} on chain ${chainId} — ` +
      "the chain was reset or --deployment points at another chain",
    {
      details: {
        contract: NAMES[field],
        address: contracts[field],
        chainId,
        redeploy: "npx hardhat run scripts/deploy.ts --network localhost",
      },
    },
  );
}
