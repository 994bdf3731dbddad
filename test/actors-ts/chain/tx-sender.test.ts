import { expect } from "chai";
import { ethers, network } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Address, Hex } from "viem";
import type { ChainClients } from "../../../actors-ts/chain/clients";
import { inProcessClients as clientsFor } from "../../helpers/in-process-clients";
import { paymentTokenAbi } from "../../../actors-ts/chain/generated/abis";
import { sendContract } from "../../../actors-ts/chain/send";
import { devAddress, devKey } from "../../helpers/agents";
import { waitFor } from "../../helpers/wait";

const SENDER = 3;

interface PendingTx {
  hash: Hex;
  nonce: number;
  maxFeePerGas: bigint;
}

/** The sender's transactions in the mempool (the pending block). */
async function pendingOf(sender: Address): Promise<PendingTx[]> {
  const block = (await network.provider.send("eth_getBlockByNumber", ["pending", true])) as {
    transactions: { hash: Hex; from: string; nonce: string; maxFeePerGas?: string; gasPrice: string }[];
  };
  return block.transactions
    .filter((t) => t.from.toLowerCase() === sender.toLowerCase())
    .map((t) => ({ hash: t.hash, nonce: Number(t.nonce), maxFeePerGas: BigInt(t.maxFeePerGas ?? t.gasPrice) }));
}

/** Mines a block every few ms until `promise` settles (the chain is on manual mining). */
async function mineUntilSettled<T>(promise: Promise<T>): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  await waitFor("the transactions to be mined", 60_000, async () => {
    if (settled) return true;
    await mine(1);
    return undefined;
  });
  return watched;
}

describe("chain/tx-sender: local nonces, stuck transactions replaced, receipts with a timeout", function () {
  this.timeout(120_000);
  let token: Address;

  before(async () => {
    const [deployer] = await ethers.getSigners();
    const t = await ethers.deployContract("PaymentToken", ["T", "T", 10n ** 24n], deployer);
    token = (await t.getAddress()) as Address;
    await (await t.transfer(devAddress(SENDER), 10n ** 21n)).wait();
    await network.provider.send("evm_setAutomine", [false]);
  });

  after(async () => {
    await network.provider.send("evm_setAutomine", [true]);
    await mine(1);
  });

  const transfer = (c: ChainClients, to: Address, amount: bigint) =>
    sendContract(c, {
      contract: "PaymentToken",
      address: token,
      abi: paymentTokenAbi,
      functionName: "transfer",
      args: [to, amount],
    });

  it("sends five transactions of one key at once: consecutive nonces, all mined, none lost", async () => {
    const c = await clientsFor(SENDER, { replaceAfterMs: 60_000 });
    const start = await c.public.getTransactionCount({ address: c.account.address });
    const before = await c.public.readContract({
      address: token,
      abi: paymentTokenAbi,
      functionName: "balanceOf",
      args: [devAddress(4)],
    });
    const sent = await mineUntilSettled(Promise.all([1n, 2n, 3n, 4n, 5n].map((a) => transfer(c, devAddress(4), a))));
    const nonces = await Promise.all(sent.map(async (s) => (await c.public.getTransaction({ hash: s.hash })).nonce));
    expect([...nonces].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4].map((i) => start + i));
    const after = await c.public.readContract({
      address: token,
      abi: paymentTokenAbi,
      functionName: "balanceOf",
      args: [devAddress(4)],
    });
    expect(after - before).to.equal(15n);
  });

  it("replaces a transaction left pending with one at higher fees, and returns the receipt of the one mined", async () => {
    const c = await clientsFor(SENDER, { replaceAfterMs: 300, feeBumpPercent: 25, receiptTimeoutMs: 60_000 });
    const sending = transfer(c, devAddress(5), 7n);
    sending.catch(() => undefined);
    // Nothing is mined: the first version sits in the mempool until the sender replaces it.
    const seen = new Map<Hex, PendingTx>();
    await waitFor("a replacement with higher fees in the mempool", 30_000, async () => {
      for (const t of await pendingOf(c.account.address)) seen.set(t.hash, t);
      return seen.size >= 2 ? true : undefined;
    });
    const [first, second] = [...seen.values()];
    expect(second.nonce).to.equal(first.nonce);
    expect(second.maxFeePerGas >= (first.maxFeePerGas * 125n) / 100n).to.equal(true);
    const result = await mineUntilSettled(sending);
    expect(result.hash).to.not.equal(first.hash);
    expect(result.events.map((e) => e.eventName)).to.include("Transfer");
    expect(await c.public.getTransactionReceipt({ hash: first.hash }).catch(() => undefined)).to.equal(undefined);
  });

  it("gives up with TransactionTimeoutError when no version is mined in time", async () => {
    const c = await clientsFor(SENDER, { replaceAfterMs: 200, maxReplacements: 1, receiptTimeoutMs: 1_500 });
    const err = await transfer(c, devAddress(5), 1n).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.name).to.equal("TransactionTimeoutError");
    expect(err?.message).to.match(/no receipt for transaction 0x[0-9a-f]{64} within 1500 ms/);
    await mine(1); // the transaction is still good: it goes in now
  });

  it("says NonceTakenError when another sender with the same key used the nonce", async () => {
    const c = await clientsFor(SENDER, { replaceAfterMs: 300, maxReplacements: 0, receiptTimeoutMs: 30_000 });
    const sending = transfer(c, devAddress(5), 2n);
    sending.catch(() => undefined);
    const [ours] = await waitFor("the transaction in the mempool", 30_000, async () => {
      const pending = await pendingOf(c.account.address);
      return pending.length > 0 ? pending : undefined;
    });
    // Another process with the same key: our transaction leaves the mempool, its own takes the nonce.
    await network.provider.send("hardhat_dropTransaction", [ours.hash]);
    const other = new ethers.Wallet(devKey(SENDER), ethers.provider);
    await other.sendTransaction({ to: devAddress(6), value: 1n, nonce: ours.nonce });
    await mine(1);
    const err = await sending.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.name).to.equal("NonceTakenError");
    expect(err?.message).to.contain(`nonce ${ours.nonce} of ${c.account.address} was used by another transaction`);
  });
});
