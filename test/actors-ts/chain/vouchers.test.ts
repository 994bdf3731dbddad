import { expect } from "chai";
import { ethers, network } from "hardhat";
import { createPublicClient, custom, defineChain, getAddress, type Address, type EIP1193RequestFn } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { plainVoucher, signVoucher, verifyVoucher } from "../../../actors-ts/chain/payment-channels/vouchers";
import { devKey } from "../../helpers/agents";

/**
 * A provider checks a voucher for every paid interval: an account's signature is recovered
 * locally (no RPC call), a contract payer's is asked of the chain (ERC-1271, as PaymentChannels'
 * SignatureChecker accepts it), and anything else is refused.
 */
describe("chain/payment-channels/vouchers: verifyVoucher", () => {
  const CHANNELS = getAddress("0x" + "c4".repeat(20));
  let calls: string[];

  async function reader() {
    const id = Number((await ethers.provider.getNetwork()).chainId);
    const chain = defineChain({
      id,
      name: "hardhat-in-process",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: ["http://127.0.0.1:8545"] } },
    });
    const request = (async (args: { method: string; params?: unknown[] }) => {
      calls.push(args.method);
      return network.provider.request(args);
    }) as EIP1193RequestFn;
    return { public: createPublicClient({ chain, transport: custom({ request }) }) };
  }

  beforeEach(() => {
    calls = [];
  });

  it("an account's own signature verifies without a call to the chain", async () => {
    const c = await reader();
    const payer = privateKeyToAccount(devKey(3));
    const signed = await signVoucher(payer, c.public.chain.id, CHANNELS, plainVoucher(7n, 2n, 1n, 1_000n));
    expect(await verifyVoucher(c, CHANNELS, payer.address, signed)).to.equal(true);
    expect(calls).to.deep.equal([]);
  });

  it("refuses another account's signature, a voucher changed after signing and a malformed signature", async () => {
    const c = await reader();
    const payer = privateKeyToAccount(devKey(3));
    const other = privateKeyToAccount(devKey(4));
    const signed = await signVoucher(other, c.public.chain.id, CHANNELS, plainVoucher(7n, 2n, 1n, 1_000n));
    expect(await verifyVoucher(c, CHANNELS, payer.address, signed)).to.equal(false);
    const own = await signVoucher(payer, c.public.chain.id, CHANNELS, plainVoucher(7n, 2n, 1n, 1_000n));
    const raised = { ...own, voucher: { ...own.voucher, amount: 2_000n } };
    expect(await verifyVoucher(c, CHANNELS, payer.address, raised)).to.equal(false);
    expect(await verifyVoucher(c, CHANNELS, payer.address, { ...own, signature: "0x1234" })).to.equal(false);
    // Another domain (another PaymentChannels) does not verify here either.
    const elsewhere = await signVoucher(payer, c.public.chain.id, getAddress("0x" + "d5".repeat(20)), own.voucher);
    expect(await verifyVoucher(c, CHANNELS, payer.address, elsewhere)).to.equal(false);
  });

  it("a contract payer's voucher is checked on chain (ERC-1271), and only its owner's signature passes", async () => {
    const c = await reader();
    const owner = privateKeyToAccount(devKey(5));
    const wallet = await ethers.deployContract("ERC1271WalletMock", [owner.address]);
    const payer = getAddress(await wallet.getAddress()) as Address;
    const voucher = plainVoucher(9n, 0n, 1n, 500n);
    const byOwner = await signVoucher(owner, c.public.chain.id, CHANNELS, voucher);
    calls = [];
    expect(await verifyVoucher(c, CHANNELS, payer, byOwner)).to.equal(true);
    expect(calls).to.include("eth_call");
    const byStranger = await signVoucher(privateKeyToAccount(devKey(6)), c.public.chain.id, CHANNELS, voucher);
    expect(await verifyVoucher(c, CHANNELS, payer, byStranger)).to.equal(false);
  });
});
