/**
 * Checking an existing ERC-20 (`PAYMENT_TOKEN`) before the markets are built on it: the markets
 * take the token address as an immutable, so a wrong one means deploying everything again.
 */
import type { Provider } from "ethers";
import { decodeFunctionResult, encodeFunctionData, isAddress, parseAbi, type Hex } from "viem";
import { InvalidArgumentError, RepairMarketError } from "../../actors-ts/core/errors";

/** `PAYMENT_TOKEN` has no code, or does not answer as an ERC-20. */
export class PaymentTokenRejectedError extends RepairMarketError {
  override name = "PaymentTokenRejectedError" as const;
}

/**
 * The token's decimals are not the 18 the profile's token amounts assume, and those amounts were
 * not given explicitly.
 */
export class TokenUnitsMismatchError extends RepairMarketError {
  override name = "TokenUnitsMismatchError" as const;
}

/** What an existing token answered. */
export interface TokenFacts {
  address: `0x${string}`;
  decimals: number;
  /** Total supply, token base units. */
  totalSupply: bigint;
}

const ERC20 = parseAbi(["function decimals() view returns (uint8)", "function totalSupply() view returns (uint256)"]);

async function ask(
  provider: Pick<Provider, "call">,
  address: `0x${string}`,
  functionName: "decimals" | "totalSupply",
): Promise<bigint | number> {
  try {
    const data = (await provider.call({ to: address, data: encodeFunctionData({ abi: ERC20, functionName }) })) as Hex;
    return decodeFunctionResult({ abi: ERC20, functionName, data });
  } catch (cause) {
    throw new PaymentTokenRejectedError(`PAYMENT_TOKEN ${address} does not answer ERC-20 ${functionName}()`, {
      details: { address, call: `${functionName}()`, hint: "give the address of an ERC-20 token contract" },
      cause,
    });
  }
}

/**
 * Checks that `address` holds a contract answering ERC-20 `decimals()` and `totalSupply()`.
 *
 * @param provider The chain being deployed to.
 * @param address The token's address (0x + 40 hex digits).
 * @returns Its decimals and total supply (token base units).
 * @throws InvalidArgumentError when `address` is not an address.
 * @throws PaymentTokenRejectedError when there is no code there or either call fails.
 */
export async function checkPaymentToken(
  provider: Pick<Provider, "getCode" | "call">,
  address: string,
): Promise<TokenFacts> {
  if (!isAddress(address, { strict: false })) {
    throw new InvalidArgumentError(`PAYMENT_TOKEN is not an address: "${address}"`, { details: { address } });
  }
  const code = await provider.getCode(address);
  if (code === "0x" || code === "") {
    throw new PaymentTokenRejectedError(`PAYMENT_TOKEN ${address} has no code: an account, not a token contract`, {
      details: { address, hint: "check the address and that --network points at the token's chain" },
    });
  }
  const decimals = Number(await ask(provider, address, "decimals"));
  const totalSupply = BigInt(await ask(provider, address, "totalSupply"));
  return { address, decimals, totalSupply };
}

/**
 * Refuses a token whose decimals are not 18 unless the parameters that are token amounts
 * (`faultReportBounty`, `pledgePerByte`) were set explicitly: the profiles state them in base
 * units of an 18-decimal token, and a 6-decimal token would make the pledge 10^12 times larger.
 *
 * @throws TokenUnitsMismatchError naming the token, its decimals and the parameters to set.
 */
export function checkTokenUnits(token: TokenFacts, amountsGiven: boolean): void {
  if (token.decimals === 18 || amountsGiven) return;
  throw new TokenUnitsMismatchError(
    `PAYMENT_TOKEN ${token.address} has ${token.decimals} decimals; the profile's token amounts assume 18: ` +
      "set faultReportBounty in MARKET_PARAMS and pledgePerByte in REPAIR_PARAMS (token base units)",
    { details: { address: token.address, decimals: token.decimals } },
  );
}
