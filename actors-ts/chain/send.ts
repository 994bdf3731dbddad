import {
  encodeFunctionData,
  keccak256,
  parseEventLogs,
  type Abi,
  type Address,
  type ContractEventName,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type Hex,
  type ParseEventLogsReturnType,
  type TransactionReceipt,
} from "viem";
import type { ChainClients } from "./clients";
import { MissingEventError, TransactionFailedError, decodeContractError } from "./contract-errors";

/** What every write action returns. */
export interface SentTransaction<TResult, TEvents> {
  hash: Hex;
  receipt: TransactionReceipt;
  /** The function's return value, from the simulation that preceded the send. */
  result: TResult;
  /** Events of the contract decoded from the receipt. */
  events: TEvents;
}

/**
 * Simulates, sends and confirms one contract call from the clients' account, through its queue:
 * `simulateContract` first (so a revert surfaces as a decoded {@link ContractRevertedError}
 * without spending gas), then `writeContract`, then the receipt.
 *
 * @param contract Name used in errors ("StorageMarket").
 * @throws ContractRevertedError when the call would revert.
 * @throws TransactionFailedError when the mined transaction reverted.
 */
export async function sendContract<
  const abi extends Abi,
  functionName extends ContractFunctionName<abi, "nonpayable" | "payable">,
  eventName extends ContractEventName<abi> | undefined = undefined,
>(
  clients: ChainClients,
  call: {
    contract: string;
    address: Address;
    abi: abi;
    functionName: functionName;
    args: ContractFunctionArgs<abi, "nonpayable" | "payable", functionName>;
    gas?: bigint;
  },
  eventNames?: eventName[],
): Promise<SentTransaction<unknown, ParseEventLogsReturnType<abi, eventName, true>>> {
  let result: unknown;
  const hash = await clients.queue.run(async () => {
    let request;
    // The generic parameter plumbing of viem's simulateContract does not survive a wrapper; the
    // call shape is checked by this function's own signature, so the calls below take it untyped.
    const untyped = {
      abi: call.abi as Abi,
      functionName: call.functionName as string,
      args: call.args as readonly unknown[],
    };
    try {
      const simulated = await clients.public.simulateContract({
        account: clients.account,
        address: call.address,
        ...untyped,
        gas: call.gas,
      });
      result = simulated.result;
      // Headroom over the estimate: transactions sent back to back are estimated against the same
      // block, and one that lands after another can take a costlier branch (the last
      // assignPiece activates the deal) and run out of gas.
      const gas =
        call.gas ??
        gasWithHeadroom(
          await clients.public.estimateContractGas({
            account: clients.account,
            address: call.address,
            ...untyped,
          }),
        );
      request = { ...simulated.request, gas };
    } catch (err) {
      throw decodeContractError(err, call.contract, untyped.functionName);
    }
    try {
      return await sendSigned(clients, {
        to: call.address,
        data: encodeFunctionData({
          ...untyped,
        }),
        gas: request.gas,
      });
    } catch (err) {
      throw decodeContractError(err, call.contract, untyped.functionName, untyped.abi);
    }
  });
  const receipt = await clients.public.waitForTransactionReceipt({ hash, timeout: 120_000 });
  if (receipt.status !== "success") {
    throw new TransactionFailedError(`${call.contract}.${String(call.functionName)} transaction reverted on chain`, {
      details: { hash, block: receipt.blockNumber },
    });
  }
  const events = parseEventLogs({
    abi: call.abi,
    logs: receipt.logs.filter((l) => l.address.toLowerCase() === call.address.toLowerCase()),
    eventName: eventNames as never,
    // Strict: a log of this contract that does not decode fully is dropped, never half-read.
    strict: true,
  }) as ParseEventLogsReturnType<abi, eventName, true>;
  return { hash, receipt, result, events };
}

/** How often a send is re-prepared after another sender with the same key took its nonce. */
const NONCE_RETRIES = 2;

/**
 * Signs locally and sends raw, so the transaction hash is known before the node answers. Another
 * process with the same key (an operator's `npx hardhat rm settle` beside the provider daemon
 * doing the same) can send the very same transaction first: the node then answers "known
 * transaction" / "already known", and this one is already on its way — the hash is returned as
 * sent. When the other sender used the nonce for something else ("nonce too low"), the request is
 * prepared again with a fresh nonce, at most {@link NONCE_RETRIES} times.
 *
 * @returns The transaction hash.
 */
async function sendSigned(clients: ChainClients, tx: { to: Address; data: Hex; gas: bigint }): Promise<Hex> {
  for (let attempt = 0; ; attempt++) {
    const prepared = await clients.wallet.prepareTransactionRequest({
      account: clients.account,
      chain: clients.chain,
      to: tx.to,
      data: tx.data,
      gas: tx.gas,
    });
    const serialized = await clients.wallet.signTransaction(prepared as never);
    const hash = keccak256(serialized);
    try {
      return await clients.wallet.sendRawTransaction({ serializedTransaction: serialized });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/known transaction|already known/i.test(message)) return hash;
      if (/nonce too low|nonce has already been used/i.test(message) && attempt < NONCE_RETRIES) continue;
      throw err;
    }
  }
}

/** A gas limit 25 % above the estimate, plus 10,000 (units of gas). */
export function gasWithHeadroom(estimate: bigint): bigint {
  return (estimate * 5n) / 4n + 10_000n;
}

/**
 * The first `name` event of a sent transaction, with its arguments as the ABI types them.
 *
 * @throws MissingEventError when the transaction emitted none.
 */
export function requireEvent<
  const events extends readonly { eventName: string }[],
  name extends events[number]["eventName"],
>(sent: { hash: Hex; events: events }, contract: string, name: name): Extract<events[number], { eventName: name }> {
  const event = sent.events.find((e) => e.eventName === name);
  if (!event) {
    throw new MissingEventError(`${contract} transaction emitted no ${name} event`, {
      details: { contract, event: name, hash: sent.hash },
    });
  }
  return event as Extract<events[number], { eventName: name }>;
}
