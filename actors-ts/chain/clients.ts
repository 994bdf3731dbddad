import {
  createPublicClient,
  createWalletClient,
  defineChain,
  type Account,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { RpcUnavailableError, rpcTransport, type RpcRetryPolicy } from "./rpc-transport";
import { DEFAULT_TX_POLICY, NonceTracker, TxQueue, type TxPolicy } from "./tx-sender";
import { DEFAULT_LOG_LIMITS, type LogLimits } from "./log-scan";

export { RpcUnavailableError } from "./rpc-transport";
export { TxQueue } from "./tx-sender";

/** A read client and, for agents that send transactions, a wallet client with its account. */
export interface ChainClients {
  public: PublicClient<Transport, Chain>;
  wallet: WalletClient<Transport, Chain, Account>;
  account: PrivateKeyAccount;
  chain: Chain;
  /** Serialises this account's transactions so nonces never collide. */
  queue: TxQueue;
  /** The account's next nonce, counted locally (used inside `queue`). */
  nonces: NonceTracker;
  /** Receipt timeout and stuck-transaction replacement. */
  txPolicy: TxPolicy;
  /** Blocks per log request and the furthest lookback (`DEFAULT_LOG_LIMITS`). */
  logLimits: LogLimits;
}

/** Options of {@link connectChain}. */
export interface ConnectOptions {
  /** How often viem polls for blocks and receipts, ms (default 50 on this machine, 1,000 otherwise). */
  pollingIntervalMs?: number;
  /** Overrides of the RPC timeout and retry policy (`DEFAULT_RPC_RETRY_POLICY`). */
  rpc?: Partial<RpcRetryPolicy>;
  /** Overrides of the transaction policy (`DEFAULT_TX_POLICY`). */
  tx?: Partial<TxPolicy>;
  /** Overrides of the log range and lookback (`DEFAULT_LOG_LIMITS`). */
  logs?: Partial<LogLimits>;
}

/**
 * Connects to an EVM JSON-RPC endpoint: reads the chain id, then builds viem clients over
 * {@link rpcTransport} (every request timed out, 429/5xx/dropped connections retried with
 * jittered backoff) that poll every `pollingIntervalMs`.
 *
 * @param rpcUrl HTTP JSON-RPC URL.
 * @param account Signing account.
 * @param options A polling interval in ms (the old third argument) or {@link ConnectOptions}.
 * @throws RpcUnavailableError when the endpoint does not answer eth_chainId.
 */
export async function connectChain(
  rpcUrl: string,
  account: PrivateKeyAccount,
  options: number | ConnectOptions = {},
): Promise<ChainClients> {
  const opts: ConnectOptions = typeof options === "number" ? { pollingIntervalMs: options } : options;
  const pollingIntervalMs = opts.pollingIntervalMs ?? (isLocal(rpcUrl) ? 50 : 1000);
  const probe = createPublicClient({
    transport: rpcTransport(rpcUrl, { retries: 2, timeoutMs: 10_000, maxBackoffMs: 2_000, ...opts.rpc }),
  });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (cause) {
    throw new RpcUnavailableError("cannot reach the chain's JSON-RPC endpoint", {
      details: { rpcUrl, method: "eth_chainId" },
      cause,
    });
  }
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  return chainClients({
    chain,
    transport: rpcTransport(rpcUrl, opts.rpc),
    account,
    pollingIntervalMs,
    txPolicy: { ...(isLocal(rpcUrl) ? LOCAL_TX_POLICY : {}), ...opts.tx },
    logLimits: opts.logs,
  });
}

/**
 * {@link ChainClients} over any viem transport (tests use the in-process Hardhat network through
 * `custom(network.provider)`): one read and one wallet client, the account's send queue and
 * nonce counter, and the transaction policy.
 *
 * @param pollingIntervalMs How often viem polls, ms.
 * @param cacheTimeMs How long viem reuses a read block number, ms (default: viem's, the polling interval).
 */
export function chainClients(init: {
  chain: Chain;
  transport: Transport;
  account: PrivateKeyAccount;
  pollingIntervalMs: number;
  cacheTimeMs?: number;
  txPolicy?: Partial<TxPolicy>;
  logLimits?: Partial<LogLimits>;
}): ChainClients {
  const { chain, transport, account, pollingIntervalMs } = init;
  const publicClient = createPublicClient({
    chain,
    transport,
    pollingInterval: pollingIntervalMs,
    ...(init.cacheTimeMs === undefined ? {} : { cacheTime: init.cacheTimeMs }),
  });
  return {
    public: publicClient,
    wallet: createWalletClient({ chain, transport, account, pollingInterval: pollingIntervalMs }),
    account,
    chain,
    queue: new TxQueue(),
    nonces: new NonceTracker(() => publicClient.getTransactionCount({ address: account.address, blockTag: "pending" })),
    txPolicy: { ...DEFAULT_TX_POLICY, ...init.txPolicy },
    logLimits: { ...DEFAULT_LOG_LIMITS, ...init.logLimits },
  };
}

/** How {@link probeClient} reads: one retry, 5 s per request, so a check of a dead endpoint fails in seconds. */
const PROBE_RPC_POLICY: Partial<RpcRetryPolicy> = {
  retries: 1,
  timeoutMs: 5_000,
  baseBackoffMs: 250,
  maxBackoffMs: 1_000,
};

/**
 * A read client for identity and health checks on `chain`'s endpoint (`rpcUrls.default`), failing
 * fast instead of riding out an outage as the agents' own clients do.
 */
export function probeClient(chain: Chain): PublicClient<Transport, Chain> {
  return createPublicClient({ chain, transport: rpcTransport(chain.rpcUrls.default.http[0] ?? "", PROBE_RPC_POLICY) });
}

/**
 * On this machine's devnet a block comes every second or faster (or on demand), so a transaction
 * pending for 20 s is stuck; a receipt taking over 3 minutes means the chain stopped.
 */
const LOCAL_TX_POLICY: Partial<TxPolicy> = { replaceAfterMs: 20_000, receiptTimeoutMs: 180_000 };

/** True for an RPC endpoint on this machine, which can be polled often. */
function isLocal(rpcUrl: string): boolean {
  try {
    const host = new URL(rpcUrl).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "::1";
  } catch {
    return false;
  }
}
