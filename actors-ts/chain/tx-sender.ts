import { keccak256, type Address, type Hex, type TransactionReceipt } from "viem";
import { RepairMarketError } from "../core/errors";
import type { ChainClients } from "./clients";

/** How transactions are confirmed and unstuck (issue "Real chains": receipts with a timeout). */
export interface TxPolicy {
  /** Longest wait for a receipt across every replacement, ms. */
  receiptTimeoutMs: number;
  /** A transaction not mined after this long is sent again with higher fees, ms. */
  replaceAfterMs: number;
  /** Fee increase per replacement, percent (nodes ask for at least 10 %). */
  feeBumpPercent: number;
  /** Most replacements of one transaction. */
  maxReplacements: number;
}

/** Defaults: a replacement after a minute without a block for it, four at most, ten minutes in all. */
export const DEFAULT_TX_POLICY: TxPolicy = {
  receiptTimeoutMs: 600_000,
  replaceAfterMs: 60_000,
  feeBumpPercent: 25,
  maxReplacements: 4,
};

/**
 * The nonce of a transaction was used by another transaction of the same key (another process
 * signing with it), so this one can never be mined.
 */
export class NonceTakenError extends RepairMarketError {
  override name = "NonceTakenError" as const;
}

/** No receipt for any version of a transaction within `receiptTimeoutMs`. */
export class TransactionTimeoutError extends RepairMarketError {
  override name = "TransactionTimeoutError" as const;
}

/**
 * Runs async jobs one at a time, in order: every transaction of one account is simulated and
 * sent through one queue, so two components of a daemon never pick the same nonce. Waiting for
 * receipts happens outside the queue, so confirmations overlap.
 */
export class TxQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private guard: (() => Promise<void>) | undefined;

  /**
   * Every job, and every replacement of a stuck transaction, first awaits `guard`, which throws
   * to refuse the send (the chain guard: the chain must still have the agent's deployment).
   */
  setGuard(guard: () => Promise<void>): void {
    this.guard = guard;
  }

  /** Awaits the guard. @throws what the guard throws (ChainHaltedError). */
  async check(): Promise<void> {
    await this.guard?.();
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      await this.check();
      return job();
    };
    const result = this.tail.then(guarded, guarded);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * One account's next nonce (called only inside the account's {@link TxQueue}): the higher of the
 * node's pending count and a local count of what this process sent. The local count keeps
 * back-to-back sends apart when a load-balanced public endpoint answers a stale pending count;
 * the node's count catches up with transactions another process sent with the same key.
 */
export class NonceTracker {
  private next = 0;

  constructor(private readonly read: () => Promise<number>) {}

  /** The nonce for the next transaction (call {@link used} once a transaction took it). */
  async peek(): Promise<number> {
    this.next = Math.max(this.next, await this.read());
    return this.next;
  }

  /** Nonce `nonce` was taken by a sent transaction (ours, or another sender's pending one). */
  used(nonce: number): void {
    this.next = Math.max(this.next, nonce + 1);
  }
}

/** The clients a send needs. */
export type TxClients = Pick<ChainClients, "public" | "wallet" | "account" | "chain" | "queue" | "nonces" | "txPolicy">;

/** A call to sign: target, calldata and gas limit. */
export interface TxCall {
  to: Address;
  data: Hex;
  gas: bigint;
}

/** A signed transaction as sent: its nonce and fees, so it can be replaced. */
export interface SentTx {
  hash: Hex;
  nonce: number;
  call: TxCall;
  fees: Fees;
}

type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

/** How often a send is prepared again after another sender with the same key took its nonce. */
const NONCE_RETRIES = 2;

/**
 * Signs `call` with the account's next nonce and fees from the node (EIP-1559 where the chain
 * has a base fee, a gas price otherwise) and sends it raw, so the hash is known before the node
 * answers. Call it inside the account's queue. When the node answers "already known" (another
 * process with the same key sent the very same transaction, or a retried request that had
 * arrived), the hash is returned as sent; after a "nonce too low" or "replacement transaction
 * underpriced" (another sender's transaction holds the nonce), the call is re-signed with the
 * next nonce, at most {@link NONCE_RETRIES} times — unless this very transaction is the one the
 * node already has.
 *
 * @throws The node's error for anything else (callers decode it).
 */
export async function signAndSend(clients: TxClients, call: TxCall): Promise<SentTx> {
  for (let attempt = 0; ; attempt++) {
    const nonce = await clients.nonces.peek();
    const prepared = await clients.wallet.prepareTransactionRequest({
      account: clients.account,
      chain: clients.chain,
      to: call.to,
      data: call.data,
      gas: call.gas,
      nonce,
    });
    const fees = feesOf(prepared);
    const serializedTransaction = await clients.wallet.signTransaction(prepared as never);
    const hash = keccak256(serializedTransaction);
    try {
      await clients.wallet.sendRawTransaction({ serializedTransaction });
      clients.nonces.used(nonce);
      return { hash, nonce, call, fees };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/known transaction|already known/i.test(message) || (await isKnown(clients, hash))) {
        clients.nonces.used(nonce);
        return { hash, nonce, call, fees };
      }
      if (/nonce too low|nonce has already been used|replacement transaction underpriced/i.test(message)) {
        if (attempt < NONCE_RETRIES) {
          clients.nonces.used(nonce);
          continue;
        }
      }
      throw err;
    }
  }
}

/**
 * Waits for the receipt of `sent` or of a replacement: a transaction still pending after
 * `replaceAfterMs` is signed again with the same nonce and calldata and fees raised by
 * `feeBumpPercent` (or to what the node asks now, whichever is higher), up to `maxReplacements`
 * times. Whichever version is mined first gives the receipt.
 *
 * @throws TransactionTimeoutError naming the hashes when none is mined within `receiptTimeoutMs`.
 */
export async function awaitReceipt(clients: TxClients, sent: SentTx): Promise<TransactionReceipt> {
  const policy = clients.txPolicy;
  const deadline = Date.now() + policy.receiptTimeoutMs;
  const hashes: Hex[] = [sent.hash];
  let current = sent;
  let nonceUsed = false;
  for (;;) {
    const replaceAt = Math.min(deadline, Date.now() + policy.replaceAfterMs);
    const receipt = await pollReceipts(clients, hashes, replaceAt);
    if (receipt) return receipt;
    if (Date.now() >= deadline) {
      throw new TransactionTimeoutError(
        `no receipt for transaction ${sent.hash} within ${policy.receiptTimeoutMs} ms`,
        {
          details: { hashes: hashes.join(","), nonce: sent.nonce, to: sent.call.to },
        },
      );
    }
    const mined = await clients.public.getTransactionCount({ address: clients.account.address, blockTag: "latest" });
    if (mined > sent.nonce) {
      // Some transaction with this nonce is mined. Ours shows its receipt by the next poll; if a
      // whole replacement interval later none has, another sender's transaction took the nonce.
      if (nonceUsed) {
        throw new NonceTakenError(`nonce ${sent.nonce} of ${clients.account.address} was used by another transaction`, {
          details: { hashes: hashes.join(","), nonce: sent.nonce, to: sent.call.to },
        });
      }
      nonceUsed = true;
      continue;
    }
    if (hashes.length > policy.maxReplacements) continue;
    // Still pending, and the nonce unused on chain: replace it with higher fees (if the chain
    // is still the agent's).
    await clients.queue.check();
    current = await replace(clients, current);
    hashes.push(current.hash);
  }
}

/** Polls the receipts of `hashes` until one exists or `until` (ms since epoch) passes. */
async function pollReceipts(clients: TxClients, hashes: Hex[], until: number): Promise<TransactionReceipt | undefined> {
  const interval = Math.max(50, clients.public.pollingInterval);
  for (;;) {
    for (const hash of hashes) {
      const receipt = await clients.public.getTransactionReceipt({ hash }).catch(() => undefined);
      if (receipt) return receipt;
    }
    if (Date.now() >= until) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, Math.max(0, until - Date.now()))));
  }
}

/** Re-signs `sent` with the same nonce and higher fees, and sends it. */
async function replace(clients: TxClients, sent: SentTx): Promise<SentTx> {
  const bump = (v: bigint): bigint => (v * BigInt(100 + clients.txPolicy.feeBumpPercent) + 99n) / 100n;
  let fees: Fees;
  if ("gasPrice" in sent.fees) {
    const now = await clients.public.getGasPrice();
    fees = { gasPrice: max(bump(sent.fees.gasPrice), now) };
  } else {
    const now = await clients.public.estimateFeesPerGas();
    fees = {
      maxFeePerGas: max(bump(sent.fees.maxFeePerGas), now.maxFeePerGas),
      maxPriorityFeePerGas: max(bump(sent.fees.maxPriorityFeePerGas), now.maxPriorityFeePerGas),
    };
  }
  const request = {
    account: clients.account,
    chain: clients.chain,
    to: sent.call.to,
    data: sent.call.data,
    gas: sent.call.gas,
    nonce: sent.nonce,
    ...fees,
  };
  const serializedTransaction = await clients.wallet.signTransaction(
    (await clients.wallet.prepareTransactionRequest(request)) as never,
  );
  const hash = keccak256(serializedTransaction);
  try {
    await clients.wallet.sendRawTransaction({ serializedTransaction });
  } catch (err) {
    // The old version may have been mined meanwhile ("nonce too low"): the caller's next poll
    // finds its receipt. Anything else means this replacement did not go out.
    if (!/nonce too low|already known|known transaction/i.test((err as Error).message)) throw err;
  }
  return { hash, nonce: sent.nonce, call: sent.call, fees };
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function feesOf(prepared: { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint; gasPrice?: bigint }): Fees {
  if (prepared.maxFeePerGas !== undefined) {
    return { maxFeePerGas: prepared.maxFeePerGas, maxPriorityFeePerGas: prepared.maxPriorityFeePerGas ?? 0n };
  }
  return { gasPrice: prepared.gasPrice ?? 0n };
}

/** True when the node has transaction `hash` (pending or mined). */
async function isKnown(clients: TxClients, hash: Hex): Promise<boolean> {
  try {
    await clients.public.getTransaction({ hash });
    return true;
  } catch {
    return false;
  }
}
