import type { Address, Hex } from "viem";
import { paymentChannelsAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { Voucher } from "../eip712";
import { sendContract } from "../send";
import { ensureAllowance } from "../token/approve";
import type { PaymentChannelsView } from "../view-types";

/**
 * PaymentChannels writes, one function each (`createChannel`, `fund`, `updateChannelState`,
 * `settle`, `collect`, `withdraw`), built on `sendContract` (simulate, send, confirm, decode events).
 * All throw ContractRevertedError with the contract's custom error on a revert.
 */

/** `createChannel(payee, amount)`: approves the contract if needed, returns the new channel id. */
export async function createChannel(
  clients: ChainClients,
  contracts: MarketContracts,
  payee: Address,
  amount: bigint,
): Promise<{ hash: Hex; channelId: bigint; funds: bigint }> {
  await ensureAllowance(clients, contracts.token, contracts.paymentChannels, amount);
  const sent = await sendContract(
    clients,
    {
      contract: "PaymentChannels",
      address: contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "createChannel",
      args: [payee, amount],
    },
    ["ChannelCreated"],
  );
  const event = sent.events[0];
  return { hash: sent.hash, channelId: event?.args.channelId ?? 0n, funds: event?.args.amount ?? 0n };
}

/** `fund(channelId, amount)` by the payer. */
export async function fundChannel(
  clients: ChainClients,
  contracts: MarketContracts,
  channelId: bigint,
  amount: bigint,
): Promise<{ hash: Hex; funds: bigint }> {
  await ensureAllowance(clients, contracts.token, contracts.paymentChannels, amount);
  const sent = await sendContract(
    clients,
    {
      contract: "PaymentChannels",
      address: contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "fund",
      args: [channelId, amount],
    },
    ["ChannelFunded"],
  );
  return { hash: sent.hash, funds: sent.events[0]?.args.funds ?? 0n };
}

/** `updateChannelState(voucher, signature, secret)` by the payee: redeems a voucher. */
export async function updateChannelState(
  clients: ChainClients,
  contracts: MarketContracts,
  voucher: Voucher,
  signature: Hex,
  secret: Hex = "0x",
): Promise<{ hash: Hex; delta: bigint }> {
  const sent = await sendContract(
    clients,
    {
      contract: "PaymentChannels",
      address: contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "updateChannelState",
      args: [voucher, signature, secret],
    },
    ["VoucherRedeemed"],
  );
  return { hash: sent.hash, delta: sent.events[0]?.args.delta ?? 0n };
}

/** `settle(channelId)` by payer or payee: starts the settle delay. */
export async function settleChannel(
  clients: ChainClients,
  contracts: MarketContracts,
  channelId: bigint,
): Promise<Hex> {
  const sent = await sendContract(clients, {
    contract: "PaymentChannels",
    address: contracts.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "settle",
    args: [channelId],
  });
  return sent.hash;
}

/**
 * `withdraw` of everything this account's balance holds (what `collect` credited it); nothing is
 * sent when the balance is 0.
 *
 * @returns Token base units withdrawn, and the transaction hash when one was sent.
 */
export async function withdrawChannelBalance(
  clients: ChainClients,
  contracts: MarketContracts,
): Promise<{ hash?: Hex; amount: bigint }> {
  const amount = await clients.public.readContract({
    address: contracts.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "balanceOf",
    args: [clients.account.address],
  });
  if (amount === 0n) return { amount };
  const sent = await sendContract(
    clients,
    {
      contract: "PaymentChannels",
      address: contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "withdraw",
      args: [amount],
    },
    ["Withdrawn"],
  );
  return { hash: sent.hash, amount };
}

/**
 * `collect(channelId)` after the settle delay: credits both parties' balances (pull payments);
 * each takes its share with `withdraw` ({@link withdrawChannelBalance}).
 */
export async function collectChannel(
  clients: ChainClients,
  contracts: MarketContracts,
  channelId: bigint,
): Promise<{ hash: Hex; toPayee: bigint; toPayer: bigint }> {
  const sent = await sendContract(
    clients,
    {
      contract: "PaymentChannels",
      address: contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "collect",
      args: [channelId],
    },
    ["ChannelCollectedOut"],
  );
  const e = sent.events[0];
  return { hash: sent.hash, toPayee: e?.args.toPayee ?? 0n, toPayer: e?.args.toPayer ?? 0n };
}

type Reader = Pick<ChainClients, "public">;

/** A channel's on-chain state. */
export async function getChannel(
  c: Reader,
  contracts: MarketContracts,
  channelId: bigint,
): Promise<PaymentChannelsView<"getChannel">> {
  return c.public.readContract({
    address: contracts.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "getChannel",
    args: [channelId],
  });
}

/** A lane's on-chain state (nonce and redeemed amount). */
export async function getLane(
  c: Reader,
  contracts: MarketContracts,
  channelId: bigint,
  lane: bigint,
): Promise<PaymentChannelsView<"laneState">> {
  return c.public.readContract({
    address: contracts.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "laneState",
    args: [channelId, lane],
  });
}
