import {
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  type Abi,
  type ContractErrorName,
  type Hex,
} from "viem";
import {
  paymentChannelsAbi,
  paymentTokenAbi,
  providerRegistryAbi,
  repairMarketAbi,
  storageMarketAbi,
} from "./generated/abis";
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

/**
 * A mined transaction lacks the event its action reads its result from (an ABI or deployment
 * mismatch: the contract at that address is not the one the agent was built for).
 */
export class MissingEventError extends RepairMarketError {
  override name = "MissingEventError" as const;
}

/** A transaction was sent but failed or could not be confirmed. */
export class TransactionFailedError extends RepairMarketError {
  override name = "TransactionFailedError" as const;
}

/**
 * Turns viem's errors into {@link ContractRevertedError} when the revert data decodes to a custom
 * error of the ABI, or to an ERC-20 error (EIP-6093, e.g. ERC20InsufficientBalance) the token
 * raised inside the call; with `abi`, also revert data carried by an RPC error (a raw send); other
 * errors come back unchanged.
 */
export function decodeContractError(err: unknown, contract: string, functionName: string, abi?: Abi): unknown {
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      if (!reverted.data && reverted.raw) {
        const token = decodeTokenError(reverted.raw);
        if (token) return new ContractRevertedError(contract, functionName, token.errorName, token.args, err);
      }
      const errorName = reverted.data?.errorName ?? reverted.reason ?? "unknown";
      return new ContractRevertedError(contract, functionName, errorName, reverted.data?.args ?? [], err);
    }
    // A raw send that reverted (a node that executes on submission): revert data on an RPC error.
    const withData = err.walk((e) => typeof (e as { data?: unknown }).data === "string");
    const data = (withData as { data?: unknown } | null)?.data;
    if (abi && typeof data === "string" && /^0x[0-9a-f]{8}/i.test(data)) {
      for (const candidate of [abi, paymentTokenAbi as Abi]) {
        try {
          const decoded = decodeErrorResult({ abi: candidate, data: data as Hex });
          return new ContractRevertedError(contract, functionName, decoded.errorName, decoded.args ?? [], err);
        } catch {
          // not this ABI's error
        }
      }
    }
  }
  return err;
}

function decodeTokenError(raw: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  try {
    const decoded = decodeErrorResult({ abi: paymentTokenAbi, data: raw });
    return { errorName: decoded.errorName, args: decoded.args ?? [] };
  } catch {
    return undefined;
  }
}

/**
 * The name of a custom error some contract of the market declares, taken from the generated ABIs:
 * a misspelt or removed error name in an agent is a compile error, not a branch that never runs.
 */
export type MarketErrorName =
  | ContractErrorName<typeof storageMarketAbi>
  | ContractErrorName<typeof repairMarketAbi>
  | ContractErrorName<typeof paymentChannelsAbi>
  | ContractErrorName<typeof providerRegistryAbi>
  | ContractErrorName<typeof paymentTokenAbi>;

/** True when `err` is a revert with custom error `errorName`. */
export function isRevert(err: unknown, errorName: MarketErrorName): boolean {
  return err instanceof ContractRevertedError && err.errorName === errorName;
}

/** 0x-hex transaction hash type re-exported for action results. */
export type TxHash = Hex;
