import {
  encodeFunctionData,
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
import { awaitReceipt, signAndSend, type SentTx } from "./tx-sender";

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
 * without spending gas), then the signed transaction with a locally counted nonce and the node's
 * fees ({@link signAndSend}), then the receipt — replacing a transaction that stays pending with
 * higher fees ({@link awaitReceipt}).
 *
 * @param contract Name used in errors ("StorageMarket").
 * @throws ContractRevertedError when the call would revert.
 * @throws TransactionFailedError when the mined transaction reverted.
 * @throws TransactionTimeoutError when no version of it is mined in time.
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
  const sent: SentTx = await clients.queue.run(async () => {
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
      return await signAndSend(clients, {
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
  const receipt = await awaitReceipt(clients, sent);
  const hash = receipt.transactionHash;
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
