import {
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
import { TransactionFailedError, decodeContractError } from "./contract-errors";

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
): Promise<SentTransaction<unknown, ParseEventLogsReturnType<abi, eventName>>> {
  let result: unknown;
  const hash = await clients.queue.run(async () => {
    let request;
    try {
      // The generic parameter plumbing of viem's simulateContract does not survive a wrapper;
      // the call shape is checked by this function's own signature.
      const simulated = await clients.public.simulateContract({
        account: clients.account,
        address: call.address,
        abi: call.abi as Abi,
        functionName: call.functionName as string,
        args: call.args as readonly unknown[],
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
            abi: call.abi as Abi,
            functionName: call.functionName as string,
            args: call.args as readonly unknown[],
          }),
        );
      request = { ...simulated.request, gas };
    } catch (err) {
      throw decodeContractError(err, call.contract, call.functionName as string);
    }
    try {
      // The simulated request carries only the function's ABI item; give the write the whole ABI
      // so a revert at send time still decodes to its custom error.
      return await clients.wallet.writeContract({ ...request, abi: call.abi as Abi });
    } catch (err) {
      throw decodeContractError(err, call.contract, call.functionName as string);
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
  }) as ParseEventLogsReturnType<abi, eventName>;
  return { hash, receipt, result, events };
}

/** A gas limit 25 % above the estimate, plus 10,000 (units of gas). */
export function gasWithHeadroom(estimate: bigint): bigint {
  return (estimate * 5n) / 4n + 10_000n;
}
