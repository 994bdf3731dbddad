import { expect } from "chai";
import { ethers, network } from "hardhat";
import { createPublicClient, custom, defineChain, getAddress, zeroAddress, type EIP1193RequestFn } from "viem";
import type { MarketContracts } from "../../../../actors-ts/chain/contracts";
import { HttpError } from "../../../../actors-ts/core/http-errors";
import { ChannelCache } from "../../../../actors-ts/provider/retrieval/channel-cache";
import type { PaymentChannels } from "../../../../typechain-types";

/**
 * The provider reads a payment channel once a second, not once per paid interval: a cached read
 * serves the next intervals, a refusal for want of funds on a cached read is retried on a fresh
 * one (the payer may have funded the channel since), and any other refusal is not.
 */
describe("provider/retrieval/channel-cache: a channel read serves its next intervals", () => {
  let reads: number;
  let clock: number;
  let cache: ChannelCache;
  let channels: PaymentChannels;
  let channelId: bigint;

  before(async () => {
    const [, payer, payee] = await ethers.getSigners();
    const token = await ethers.deployContract("PaymentToken", ["T", "T", 10n ** 24n]);
    channels = await ethers.deployContract("PaymentChannels", [await token.getAddress(), 20n]);
    await (await token.transfer(payer.address, 10n ** 21n)).wait();
    await (await token.connect(payer).approve(await channels.getAddress(), ethers.MaxUint256)).wait();
    channelId = await channels.connect(payer).createChannel.staticCall(payee.address, 100n);
    await (await channels.connect(payer).createChannel(payee.address, 100n)).wait();
    const chain = defineChain({
      id: Number((await ethers.provider.getNetwork()).chainId),
      name: "hardhat-in-process",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: ["http://127.0.0.1:8545"] } },
    });
    const request = (async (args: { method: string; params?: unknown[] }) => {
      if (args.method === "eth_call") reads++;
      return network.provider.request(args);
    }) as EIP1193RequestFn;
    const contracts: MarketContracts = {
      token: getAddress(await token.getAddress()),
      registry: zeroAddress,
      storageMarket: zeroAddress,
      repairMarket: zeroAddress,
      paymentChannels: getAddress(await channels.getAddress()),
    };
    cache = new ChannelCache(
      { clients: { public: createPublicClient({ chain, transport: custom({ request }) }) }, contracts },
      1_000,
      () => clock,
    );
  });

  beforeEach(() => {
    reads = 0;
  });

  it("reads the chain once for the intervals served within a second, and again after it", async () => {
    clock = 10_000;
    const funds: bigint[] = [];
    for (let i = 0; i < 5; i++) funds.push(await cache.withChannel(channelId, (ch) => ch.funds));
    expect(funds).to.deep.equal([100n, 100n, 100n, 100n, 100n]);
    expect(reads).to.equal(1);
    clock += 1_001;
    await cache.withChannel(channelId, (ch) => ch.funds);
    expect(reads).to.equal(2);
  });

  it("a funds refusal on a cached read is retried on a fresh read that sees the channel funded since", async () => {
    clock += 5_000;
    expect(await cache.withChannel(channelId, (ch) => ch.funds)).to.equal(100n);
    const [, payer] = await ethers.getSigners();
    await (await channels.connect(payer).fund(channelId, 50n)).wait();
    reads = 0;
    const seen: bigint[] = [];
    const funds = await cache.withChannel(channelId, (ch) => {
      seen.push(ch.funds);
      if (ch.funds < 150n)
        throw new HttpError(402, "ChannelUnderfunded", "the channel's funds do not cover its vouchers");
      return ch.funds;
    });
    expect(seen).to.deep.equal([100n, 150n]);
    expect(funds).to.equal(150n);
    expect(reads).to.equal(1);
  });

  it("any other refusal, and a funds refusal on a fresh read, is the answer", async () => {
    clock += 5_000;
    let calls = 0;
    const refused = await cache
      .withChannel(channelId, () => {
        calls++;
        throw new HttpError(402, "ChannelUnderfunded", "still not enough");
      })
      .catch((err: unknown) => err);
    expect((refused as HttpError).code).to.equal("ChannelUnderfunded");
    expect(calls).to.equal(1); // a fresh read: no second try
    calls = 0;
    const other = await cache
      .withChannel(channelId, () => {
        calls++;
        throw new HttpError(402, "VoucherBadSignature", "not the payer's");
      })
      .catch((err: unknown) => err);
    expect((other as HttpError).code).to.equal("VoucherBadSignature");
    expect(calls).to.equal(1);
  });
});
