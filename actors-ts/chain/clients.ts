import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Account,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { RepairMarketError } from "../core/errors";

/** A read client and, for agents that send transactions, a wallet client with its account. */
export interface ChainClients {
  public: PublicClient<Transport, Chain>;
  wallet: WalletClient<Transport, Chain, Account>;
  account: PrivateKeyAccount;
  chain: Chain;
  /** Serialises this account's transactions so nonces never collide. */
  queue: TxQueue;
}

/** The RPC endpoint could not be reached or answered nonsense. */
export class RpcUnavailableError extends RepairMarketError {
  override name = "RpcUnavailableError" as const;
}

/**
 * Runs async jobs one at a time, in order: every transaction of one account is simulated and
 * sent through one queue, so two components of a daemon never pick the same nonce. Waiting for
 * receipts happens outside the queue, so confirmations overlap.
 */
export class TxQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Connects to an EVM JSON-RPC endpoint: reads the chain id, then builds viem clients that poll
 * every `pollingIntervalMs` (default 50 ms for an endpoint on this machine, 1 s otherwise).
 *
 * @param rpcUrl HTTP JSON-RPC URL.
 * @param account Signing account.
 * @throws RpcUnavailableError when the endpoint does not answer eth_chainId.
 */
export async function connectChain(
  rpcUrl: string,
  account: PrivateKeyAccount,
  pollingIntervalMs = isLocal(rpcUrl) ? 50 : 1000,
): Promise<ChainClients> {
  const probe = createPublicClient({ transport: http(rpcUrl, { retryCount: 2, timeout: 10_000 }) });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (cause) {
    throw new RpcUnavailableError("cannot reach the chain's JSON-RPC endpoint", { details: { rpcUrl }, cause });
  }
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const transport = http(rpcUrl, { retryCount: 3, timeout: 30_000 });
  return {
    public: createPublicClient({ chain, transport, pollingInterval: pollingIntervalMs }),
    wallet: createWalletClient({ chain, transport, account, pollingInterval: pollingIntervalMs }),
    account,
    chain,
    queue: new TxQueue(),
  };
}

/** True for an RPC endpoint on this machine, which can be polled often. */
function isLocal(rpcUrl: string): boolean {
  try {
    const host = new URL(rpcUrl).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "::1";
  } catch {
    return false;
  }
}
