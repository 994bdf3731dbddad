import { BaseError, ContractFunctionRevertedError, type Hex } from "viem";
import { RepairMarketError } from "../core/errors";

/**
 * A contract call reverted. `errorName` is the decoded custom error (e.g. "DealNotFound") and
 * `args` its arguments, so callers branch on the name instead of parsing messages.
 */
export class ContractRevertedError extends RepairMarketError {
  override name = "ContractRevertedError" as const;

  constructor(
    readonly contract: string,
    readonly functionName: string,
    readonly errorName: string,
    readonly args: readonly unknown[],
    cause: unknown,
  ) {
    super(`${contract}.${functionName} reverted: ${errorName}(${args.map(String).join(", ")})`, {
      details: { contract, functionName, errorName },
      cause,
    });
  }
}

/** A transaction was sent but failed or could not be confirmed. */
export class TransactionFailedError extends RepairMarketError {
  override name = "TransactionFailedError" as const;
}

/**
 * Turns viem's errors into {@link ContractRevertedError} when the revert data decodes to a custom
 * error of the ABI; other errors come back unchanged.
 */
export function decodeContractError(err: unknown, contract: string, functionName: string): unknown {
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const errorName = reverted.data?.errorName ?? reverted.reason ?? "unknown";
      return new ContractRevertedError(contract, functionName, errorName, reverted.data?.args ?? [], err);
    }
  }
  return err;
}

/** True when `err` is a revert with custom error `errorName`. */
export function isRevert(err: unknown, errorName: string): boolean {
  return err instanceof ContractRevertedError && err.errorName === errorName;
}

/** 0x-hex transaction hash type re-exported for action results. */
export type TxHash = Hex;
