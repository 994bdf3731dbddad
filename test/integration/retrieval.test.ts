import { expect } from "chai";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { createPublicClient, http, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { paymentChannelsAbi } from "../../actors-ts/chain/generated/abis";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import {
  createChannel,
  getChannel,
  settleChannel,
  withdrawChannelBalance,
} from "../../actors-ts/chain/payment-channels/actions";
import { encodeVoucherHeader, plainVoucher, signVoucher } from "../../actors-ts/chain/payment-channels/vouchers";
import { signRequest } from "../../actors-ts/core/signed-request";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";

const PRICE = 2n; // token base units per byte
const INTERVAL = 1 << 20;
const INCREASE = 1 << 19;
const MAX_UNPAID = 4 << 20;
const ROOT = join(__dirname, "..", "..");

describe("retrieval market: paid, chunked, k-of-n", function () {
  this.timeout(300_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let dir: string;
  let deployment: Deployment;
  const providers: DaemonProcess[] = [];
  const providerIndex = [2, 3, 4, 5, 6, 7];
  const owner = devKey(1); // stores the files
  const reader = devKey(8); // retrieves and pays

  function providerArgs(i: number): string[] {
    const n = providerIndex[i];
    return [
      ...["--data-dir", join(dir, `provider-${n}`), "--key", devKey(n), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--config", join(dir, "provider.json")],
      ...["--prove-interval-ms", "500", "--publish-interval-ms", "300", "--settle-interval-ms", "30000"],
      ...["--scrub-interval-ms", "600000", "--redeem-interval-ms", "1000", "--max-unpaid-bytes", String(MAX_UNPAID)],
    ];
  }

  function cli(key: string, dataDir: string): string[] {
    return [
      ...["--key", key, "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", dataDir, "--json"],
    ];
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-retrieval-"));
    // Mined by a pacer: a provider is never late for a period while it is merely slow.
    devnet = await startPacedDevnet(250);
    deployment = await deployTo(devnet, join(dir, "deployments"), {
      provingPeriodEpochs: 20,
      challengeWindowEpochs: 10,
    });
    devnet.pacer.setMarket(deployment.contracts.StorageMarket as Address);
    devnet.pacer.watch(...providerIndex.map(devAddress));
    await fundTokens(devnet, deployment, [devAddress(1), devAddress(8), ...providerIndex.map(devAddress)], 10n ** 24n);
    await writeFile(
      join(dir, "provider.json"),
      JSON.stringify({
        retrievalAsk: {
          pricePerByte: PRICE.toString(),
          paymentIntervalBytes: String(INTERVAL),
          paymentIntervalIncreaseBytes: String(INCREASE),
        },
      }),
    );
    providers.push(
      ...(await Promise.all(providerIndex.map((_, i) => startDaemon("provider", ["--port", "0", ...providerArgs(i)])))),
    );
  });

  after(async () => {
    await Promise.all(providers.map((p) => p.stop()));
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function storePiece(bytes: Buffer, provider: Address): Promise<string> {
    const file = join(dir, `piece-${Date.now()}.bin`);
    await writeFile(file, bytes);
    const r = await runCli([
      "client",
      "store",
      file,
      "--provider",
      provider,
      "--duration",
      "2000",
      "--start-delay",
      "80",
      ...cli(owner, join(dir, "owner")),
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    return (JSON.parse(r.stdout) as { pieceCid: string }).pieceCid;
  }

  async function laneRedeemed(channelId: bigint, lane: bigint): Promise<bigint> {
    const chain = createPublicClient({ transport: http(devnet.rpcUrl) });
    const state = await chain.readContract({
      address: deployment.contracts.PaymentChannels as Address,
      abi: paymentChannelsAbi,
      functionName: "laneState",
      args: [channelId, lane],
    });
    return state.redeemed;
  }

  it("pays a multi-interval retrieval exactly: redeemed on chain = price × bytes sent", async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 12_345);
    const pieceCid = await storePiece(bytes, devAddress(2));
    const out = join(dir, "paid.bin");
    const r = await runCli([
      "client",
      "retrieve",
      pieceCid,
      "--provider",
      devAddress(2),
      "--out",
      out,
      ...cli(reader, join(dir, "reader")),
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect((await readFile(out)).equals(bytes)).to.equal(true);
    const result = JSON.parse(r.stdout) as { paid: string; events: string[] };
    const owed = PRICE * BigInt(bytes.length);
    expect(BigInt(result.paid)).to.equal(owed);
    // Intervals grow: 1 MiB, 1.5 MiB, 2 MiB, then capped — several payments before the last one.
    expect(result.events.filter((e) => e.includes("ClientEventPaymentSent")).length).to.be.greaterThanOrEqual(3);
    expect(
      result.events.some((e) => /^Recv: \d+ B, Paid \d+, ClientEventBlocksReceived \(DealStatusOngoing\)/.test(e)),
    ).to.equal(true);
    const channelLog = await createPublicClient({ transport: http(devnet.rpcUrl) }).getContractEvents({
      address: deployment.contracts.PaymentChannels as Address,
      abi: paymentChannelsAbi,
      eventName: "ChannelCreated",
      args: { payer: devAddress(8), payee: devAddress(2) },
      fromBlock: 0n,
    });
    const channelId = channelLog[0].args.channelId as bigint;
    await waitFor("the provider to redeem the lane", 30_000, async () =>
      (await laneRedeemed(channelId, 0n)) === owed ? true : undefined,
    );

    // The reader settles; once the delay passes the provider's redeemer collects, which credits
    // both balances (pull payments), and withdraws its own pay. The reader takes its refund.
    const readerClients = await connectChain(devnet.rpcUrl, privateKeyToAccount(reader));
    const contracts = contractsOf(deployment);
    const funds = (await getChannel(readerClients, contracts, channelId)).funds;
    const from = await readerClients.public.getBlockNumber();
    await settleChannel(readerClients, contracts, channelId);
    const withdrawals = await waitFor("the provider to collect the channel and withdraw its pay", 120_000, async () => {
      const channel = await getChannel(readerClients, contracts, channelId);
      const logs = await readerClients.public.getContractEvents({
        address: contracts.paymentChannels,
        abi: paymentChannelsAbi,
        eventName: "Withdrawn",
        args: { account: devAddress(2) },
        fromBlock: from,
      });
      return channel.collected && logs.length > 0 ? logs : undefined;
    });
    expect(withdrawals.map((l) => l.args.amount)).to.deep.equal([owed]);
    expect(
      await readerClients.public.readContract({
        address: contracts.paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "balanceOf",
        args: [devAddress(2)],
      }),
    ).to.equal(0n);
    const refund = await withdrawChannelBalance(readerClients, contracts);
    expect(refund.amount).to.equal(funds - owed);
  });

  describe("a client that does not pay properly", () => {
    const account = privateKeyToAccount(reader);
    let pieceCid: string;
    let retrievalId: string;
    let channelId: bigint;
    const provider = devAddress(3);

    async function call(method: "GET" | "POST", path: string, body?: string, extra: Record<string, string> = {}) {
      const headers = await signRequest(account, { method, path, body, audience: provider });
      const res = await request(providers[1].url + path, {
        method,
        body,
        headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}), ...extra },
      });
      const data = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, data, json: () => JSON.parse(data.toString()) as Record<string, string> };
    }

    async function voucherFor(
      amount: bigint,
      nonce: bigint,
      over: { channelId?: bigint; lane?: bigint; signer?: string } = {},
    ) {
      const clients = await connectChain(devnet.rpcUrl, privateKeyToAccount((over.signer ?? reader) as Hex));
      const v = plainVoucher(over.channelId ?? channelId, over.lane ?? 0n, nonce, amount);
      return encodeVoucherHeader(await signVoucher(clients.account, 31337, contractsOf(deployment).paymentChannels, v));
    }

    before(async () => {
      pieceCid = await storePiece(randomBytes(3 * 1024 * 1024), provider);
      const clients = await connectChain(devnet.rpcUrl, account);
      ({ channelId } = await createChannel(clients, contractsOf(deployment), provider, 10n ** 9n));
      const opened = await call("POST", "/retrievals", JSON.stringify({ pieceCid, channelId: channelId.toString() }));
      expect(opened.status, opened.data.toString()).to.equal(200);
      retrievalId = opened.json().retrievalId;
    });

    it("is cut off after the tolerated unpaid bytes", async () => {
      const first = await call("GET", `/retrievals/${retrievalId}/data?offset=0`);
      expect(first.status).to.equal(200);
      expect(first.data.length).to.equal(INTERVAL);
      const next = await call("GET", `/retrievals/${retrievalId}/data?offset=${INTERVAL}`);
      expect(next.status).to.equal(402);
      expect(next.json().error).to.equal("PaymentRequired");
      expect(next.json().details).to.deep.include({ required: (PRICE * BigInt(INTERVAL)).toString() });
    });

    it("refuses forged vouchers: wrong signer, channel, lane, too low an amount, replayed nonce", async () => {
      const path = `/retrievals/${retrievalId}/data?offset=${INTERVAL}`;
      const owed = PRICE * BigInt(INTERVAL);
      const cases: [string, string][] = [
        ["VoucherBadSignature", await voucherFor(owed, 1n, { signer: devKey(9) })],
        ["VoucherWrongChannel", await voucherFor(owed, 1n, { channelId: channelId + 7n })],
        ["VoucherWrongLane", await voucherFor(owed, 1n, { lane: 3n })],
        ["VoucherTooLow", await voucherFor(owed - 1n, 1n)],
      ];
      for (const [code, header] of cases) {
        const res = await call("GET", path, undefined, { "x-rm-voucher": header });
        expect(res.status, code).to.equal(402);
        expect(res.json().error).to.equal(code);
      }
      const good = await voucherFor(owed, 1n);
      const paid = await call("GET", path, undefined, { "x-rm-voucher": good });
      expect(paid.status).to.equal(200);
      expect(paid.data.length).to.equal(INTERVAL + INCREASE);
      const replay = await call("GET", `/retrievals/${retrievalId}/data?offset=${2 * INTERVAL + INCREASE}`, undefined, {
        "x-rm-voucher": await voucherFor(PRICE * BigInt(2 * INTERVAL + INCREASE), 1n),
      });
      expect(replay.status).to.equal(402);
      expect(replay.json().error).to.equal("VoucherNonceReplayed");
    });
  });

  it("rebuilds a file byte for byte while one provider is dead and another lies, naming the liar", async () => {
    const bytes = randomBytes(6 * 1024 * 1024 + 777);
    const file = join(dir, "file.bin");
    await writeFile(file, bytes);
    const addresses = providerIndex.map(devAddress);
    const stored = await runCli([
      "client",
      "store",
      file,
      "--k",
      "4",
      "--m",
      "2",
      "--providers",
      addresses.join(","),
      "--duration",
      "2000",
      "--start-delay",
      "80",
      ...cli(owner, join(dir, "owner")),
    ]);
    expect(stored.code, stored.stderr + stored.stdout).to.equal(0);
    const { droot } = JSON.parse(stored.stdout) as { droot: Hex };
    devnet.pacer.release(devAddress(providerIndex[0]));
    await providers[0].kill9();
    // Provider 1 keeps its piece intact on disk but serves corrupted bytes.
    await providers[1].stop();
    providers[1] = await startDaemon("provider", ["--port", "0", ...providerArgs(1), "--fault", "corrupt-reads"]);
    // The reader has no local record: the manifest and holders come from the providers.
    const r = await runCli([
      "client",
      "retrieve",
      droot,
      "--out",
      join(dir, "file-back.bin"),
      ...cli(owner, join(dir, "owner")),
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect((await readFile(join(dir, "file-back.bin"))).equals(bytes)).to.equal(true);
    const result = JSON.parse(r.stdout) as {
      corruptProviders: { provider: string; pieceIndex: number }[];
      failedProviders: { provider: string; pieceIndex: number; error: string }[];
      piecesUsed: { pieceIndex: number }[];
    };
    expect(result.corruptProviders, JSON.stringify(result, null, 1).slice(0, 3000)).to.deep.include({
      ...result.corruptProviders[0],
      provider: addresses[1],
      pieceIndex: 1,
    });
    expect(result.failedProviders.map((f) => f.provider)).to.include(addresses[0]);
    expect(result.piecesUsed.map((p) => p.pieceIndex).sort()).to.deep.equal([2, 3, 4, 5]);
    providers[0] = await startDaemon("provider", ["--port", "0", ...providerArgs(0)]);
    devnet.pacer.watch(devAddress(providerIndex[0]));
    await providers[1].stop();
    providers[1] = await startDaemon("provider", ["--port", "0", ...providerArgs(1)]);
  });

  it("resumes a retrieval after the client is killed, paying nothing twice", async () => {
    const bytes = randomBytes(8 * 1024 * 1024);
    const pieceCid = await storePiece(bytes, devAddress(4));
    const out = join(dir, "resumed.bin");
    const args = [
      "client",
      "retrieve",
      pieceCid,
      "--provider",
      devAddress(4),
      "--out",
      out,
      "--max-download-rate",
      "2000000",
      ...cli(reader, join(dir, "reader2")),
    ];
    const child = spawn(process.execPath, [join(ROOT, "bin", "repair-market.cjs"), ...args], {
      cwd: ROOT,
      stdio: "ignore",
    });
    const exited = new Promise((r) => child.once("exit", r));
    const work = join(dir, "reader2", "work");
    await waitFor("half the piece on the client's disk", 60_000, async () => {
      for (const name of await readdir(work).catch(() => [] as string[])) {
        if ((await stat(join(work, name))).size > 3 * 1024 * 1024) return true;
      }
      return undefined;
    });
    child.kill("SIGKILL");
    await exited;
    const rerun = await runCli(
      args.filter((a, i) => a !== "--max-download-rate" && args[i - 1] !== "--max-download-rate"),
    );
    expect(rerun.code, rerun.stderr + rerun.stdout).to.equal(0);
    expect((await readFile(out)).equals(bytes)).to.equal(true);
    const result = JSON.parse(rerun.stdout) as { paid: string; events: string[] };
    expect(BigInt(result.paid)).to.equal(PRICE * BigInt(bytes.length));
    expect(result.events.filter((e) => e.includes("ClientEventLaneAllocated"))).to.have.length(1);
    const chain = createPublicClient({ transport: http(devnet.rpcUrl) });
    const channels = await chain.getContractEvents({
      address: deployment.contracts.PaymentChannels as Address,
      abi: paymentChannelsAbi,
      eventName: "ChannelCreated",
      args: { payer: devAddress(8), payee: devAddress(4) },
      fromBlock: 0n,
    });
    expect(channels).to.have.length(1);
    const channelId = channels[0].args.channelId as bigint;
    await waitFor("the lane to be redeemed in full, once", 30_000, async () =>
      (await laneRedeemed(channelId, 0n)) === PRICE * BigInt(bytes.length) ? true : undefined,
    );
    expect(await laneRedeemed(channelId, 1n)).to.equal(0n);
  });
});
