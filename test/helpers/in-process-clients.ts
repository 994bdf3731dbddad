import { ethers, network } from "hardhat";
import { custom, defineChain } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { chainClients, type ChainClients } from "../../actors-ts/chain/clients";
import type { TxPolicy } from "../../actors-ts/chain/tx-sender";
import { devKey } from "./agents";

/**
 * viem clients for Hardhat dev account `index` over the in-process Hardhat network (the one
 * `ethers` from "hardhat" talks to), polling every 20 ms with no block-number cache, so a test
 * that mines sees the new head at once.
 */
export async function inProcessClients(index: number, tx: Partial<TxPolicy> = {}): Promise<ChainClients> {
  const id = Number((await ethers.provider.getNetwork()).chainId);
  const chain = defineChain({
    id,
    name: "hardhat-in-process",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: ["http://127.0.0.1:8545"] } },
  });
  return chainClients({
    chain,
    transport: custom(network.provider),
    account: privateKeyToAccount(devKey(index)),
    pollingIntervalMs: 20,
    cacheTimeMs: 0,
    txPolicy: tx,
  });
}
