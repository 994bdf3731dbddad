import { ethers, network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { PaymentChannels, PaymentToken } from "../../../typechain-types";
import { VOUCHER_TYPES, PAYMENT_CHANNELS_DOMAIN, type Voucher } from "../../../actors-ts/chain/eip712";
import { INITIAL_BALANCE } from "./market";

export const SETTLE_DELAY = 10n;

export interface ChannelFixture {
  token: PaymentToken;
  channels: PaymentChannels;
  payer: HardhatEthersSigner;
  payee: HardhatEthersSigner;
  other: HardhatEthersSigner;
  accounts: string[];
}

/**
 * Deploys a token and PaymentChannels, funds and approves payer, payee and other.
 *
 * @param tokenContract "PaymentToken", or a test token with the same supply constructor
 * ("SkimmingTokenMock", whose planted bug the property test must find).
 */
export async function deployChannels(
  tokenContract: "PaymentToken" | "SkimmingTokenMock" | "BlocklistTokenMock" = "PaymentToken",
): Promise<ChannelFixture> {
  const [deployer, payer, payee, other] = await ethers.getSigners();
  const supply = ethers.parseEther("1000000000");
  const token = (tokenContract === "PaymentToken"
    ? await ethers.deployContract("PaymentToken", ["T", "T", supply])
    : await ethers.deployContract(tokenContract, [supply])) as unknown as PaymentToken;
  const channels = await ethers.deployContract("PaymentChannels", [await token.getAddress(), SETTLE_DELAY]);
  for (const s of [payer, payee, other]) {
    await token.transfer(s.address, INITIAL_BALANCE);
    await token.connect(s).approve(await channels.getAddress(), ethers.MaxUint256);
  }
  return { token, channels, payer, payee, other, accounts: [deployer, payer, payee, other].map((s) => s.address) };
}

/** A voucher with no time lock, secret or settle bound. */
export function voucher(fields: Partial<Voucher> & { channelId: bigint; amount: bigint; nonce: bigint }): Voucher {
  return {
    lane: 0n,
    timeLockMin: 0n,
    timeLockMax: 0n,
    secretHash: ethers.ZeroHash as `0x${string}`,
    minSettleEpoch: 0n,
    ...fields,
  };
}

export async function signVoucher(
  channels: PaymentChannels,
  signer: HardhatEthersSigner,
  v: Voucher,
  overrides: { chainId?: bigint; verifyingContract?: string } = {},
): Promise<string> {
  return signer.signTypedData(
    {
      ...PAYMENT_CHANNELS_DOMAIN,
      chainId: overrides.chainId ?? BigInt(network.config.chainId ?? 31337),
      verifyingContract: overrides.verifyingContract ?? (await channels.getAddress()),
    },
    { Voucher: [...VOUCHER_TYPES.Voucher] },
    v,
  );
}

/**
 * Token balance of PaymentChannels equals the funds of its uncollected channels plus what the
 * fixture's accounts can withdraw.
 */
export async function expectChannelFundsConserved(f: ChannelFixture): Promise<void> {
  const held = await f.token.balanceOf(await f.channels.getAddress());
  let owed = 0n;
  const next = await f.channels.nextChannelId();
  for (let id = 1n; id < next; id++) owed += (await f.channels.getChannel(id)).funds;
  for (const account of f.accounts) owed += await f.channels.balanceOf(account);
  if (held !== owed) throw new Error(`PaymentChannels holds ${held} but channels and balances hold ${owed}`);
}
