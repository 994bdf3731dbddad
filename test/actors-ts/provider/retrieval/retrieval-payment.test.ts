import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ethers } from "hardhat";
import { request } from "undici";
import { privateKeyToAccount } from "viem/accounts";
import { getLane } from "../../../../actors-ts/chain/payment-channels/actions";
import { silentLogger } from "../../../../actors-ts/core/logger";
import { RetrievalClient } from "../../../../actors-ts/client/retrieval/retrieval-client";
import { StorageClient } from "../../../../actors-ts/client/storage-client";
import { PROVIDER_PATHS } from "../../../../actors-ts/protocol/provider-api";
import { devKey } from "../../../helpers/agents";
import { waitFor } from "../../../helpers/wait";
import { startInProcessMarket, type InProcessMarket } from "../../client/in-process-market";
import { Coverage, RawReader } from "./raw-reader";

const PRICE = 2n; // token base units per byte
const INTERVAL = 128 * 1024;
const INCREASE = 64 * 1024;
/** The providers run with the default allowance: one interval. */
const MAX_UNPAID = INTERVAL;
const PIECE_BYTES = 10 * INTERVAL + 4321;

describe("retrieval: the unpaid allowance belongs to the client, not to each lane", function () {
  this.timeout(300_000);
  let market: InProcessMarket;
  let storage: StorageClient;
  let attacked: { pieceCid: string; bytes: Buffer };

  before(async () => {
    market = await startInProcessMarket(2, {
      retrievalAsk: {
        pricePerByte: PRICE,
        paymentIntervalBytes: BigInt(INTERVAL),
        paymentIntervalIncreaseBytes: BigInt(INCREASE),
      },
      redeemIntervalMs: 300,
    });
    const { clients, contracts, store } = market;
    storage = new StorageClient({ clients, contracts, store, logger: silentLogger });
    const token = await ethers.getContractAt("PaymentToken", contracts.token);
    for (const n of [8, 9, 10, 11]) await token.transfer(privateKeyToAccount(devKey(n)).address, 10n ** 21n);
    attacked = await storePiece(0, PIECE_BYTES);
  });

  after(async () => {
    await market?.close();
  });

  async function storePiece(provider: number, size: number): Promise<{ pieceCid: string; bytes: Buffer }> {
    const bytes = randomBytes(size);
    const file = join(market.dir, `piece-${randomBytes(4).toString("hex")}.bin`);
    await writeFile(file, bytes);
    const deal = await storage.storeFile(file, {
      provider: market.providers[provider],
      durationEpochs: 2000n,
      startDelayEpochs: 80n,
    });
    return { pieceCid: deal.pieceCid, bytes };
  }

  /** Opens `count` retrievals of the attacked piece on `channelId`, each `shift` bytes into its own interval. */
  async function openMany(reader: RawReader, channelId: bigint, count: number, shift = 0) {
    const opened = [];
    for (let i = 0; i < count; i++) {
      const offset = (shift + i * INTERVAL) % (PIECE_BYTES - 1);
      opened.push({ ...(await reader.open(attacked.pieceCid, channelId, offset)), offset });
    }
    return opened;
  }

  describe("attacks", () => {
    const greedy = () => new RawReader(market, devKey(8), 0);
    let reader: RawReader;
    let channelId: bigint;
    let coverage: Coverage;

    before(async () => {
      reader = greedy();
      channelId = await reader.channel(10n ** 12n);
      coverage = new Coverage(attacked.bytes);
    });

    it("ten retrievals on one channel, none paid, get one interval between them and a 402 naming what is owed", async () => {
      const answers = [];
      for (const r of await openMany(reader, channelId, 10)) {
        const answer = await reader.data(r.retrievalId, r.offset);
        coverage.add(r.offset, answer);
        answers.push(answer);
      }
      expect(coverage.count).to.equal(MAX_UNPAID);
      expect(answers.map((a) => a.status)).to.deep.equal([200, ...Array<number>(9).fill(402)]);
      for (const refused of answers.slice(1)) {
        expect(refused.json().error).to.equal("UnpaidLimitReached");
        expect(refused.json().details).to.deep.include({
          channelId: channelId.toString(),
          unpaidBytes: MAX_UNPAID,
          maxUnpaidBytes: MAX_UNPAID,
          owed: (PRICE * BigInt(MAX_UNPAID)).toString(),
        });
        expect(String(refused.json().details.owedLanes)).to.include(`channel ${channelId} lane 0`);
      }
    });

    it("restarting the provider does not give the allowance back", async () => {
      await market.restartProvider(0);
      for (const r of await openMany(reader, channelId, 10, INTERVAL / 2)) {
        const answer = await reader.data(r.retrievalId, r.offset);
        expect(answer.status, answer.text()).to.equal(402);
        expect(answer.json().error).to.equal("UnpaidLimitReached");
        coverage.add(r.offset, answer);
      }
      expect(coverage.count).to.equal(MAX_UNPAID);
    });

    it("eight first requests racing on a fresh channel get one interval between them", async () => {
      const racer = new RawReader(market, devKey(9), 0);
      const fresh = await racer.channel(10n ** 12n);
      const opened = await openMany(racer, fresh, 8);
      const race = new Coverage(attacked.bytes);
      const answers = await Promise.all(opened.map((r) => racer.data(r.retrievalId, r.offset)));
      answers.forEach((a, i) => race.add(opened[i].offset, a));
      expect(race.count).to.equal(MAX_UNPAID);
      expect(answers.filter((a) => a.status === 200)).to.have.length(1);
      expect(answers.filter((a) => a.status === 402 && a.json().error === "UnpaidLimitReached")).to.have.length(7);
    });

    it("channels with a deposit too small for an interval get nothing unpaid", async () => {
      const cheap = new RawReader(market, devKey(10), 0);
      const race = new Coverage(attacked.bytes);
      for (let i = 0; i < 5; i++) {
        const tiny = await cheap.channel(1n);
        const [r] = await openMany(cheap, tiny, 1);
        const answer = await cheap.data(r.retrievalId, r.offset);
        race.add(r.offset, answer);
        expect(answer.status).to.equal(402);
        expect(answer.json().error).to.equal("UnpaidExceedsFunds");
        expect(answer.json().details).to.deep.include({
          channelId: tiny.toString(),
          funds: "1",
          required: (PRICE * BigInt(INTERVAL)).toString(),
        });
      }
      expect(race.count).to.equal(0);
    });

    it("well-funded channels of one client share one allowance", async () => {
      const many = new RawReader(market, devKey(10), 0);
      const race = new Coverage(attacked.bytes);
      const channels = [await many.channel(10n ** 12n), await many.channel(10n ** 12n), await many.channel(10n ** 12n)];
      const answers = [];
      for (const channel of channels) {
        const [r] = await openMany(many, channel, 1);
        const answer = await many.data(r.retrievalId, r.offset);
        race.add(r.offset, answer);
        answers.push(answer);
      }
      expect(race.count).to.equal(MAX_UNPAID);
      expect(answers.map((a) => a.status)).to.deep.equal([200, 402, 402]);
      expect(answers[2].json().details).to.deep.include({ channelId: channels[2].toString() });
      expect(String(answers[2].json().details.owedLanes)).to.include(`channel ${channels[0]} lane 0`);
    });

    it("a voucher on lane A worth several lanes pays lane A only: lane B still owes, lane C is refused", async () => {
      const payer = new RawReader(market, devKey(11), 0);
      const channel = await payer.channel(10n ** 12n);
      const [a, b, c] = await openMany(payer, channel, 3);
      const gotA = await payer.data(a.retrievalId, a.offset);
      expect(gotA.status).to.equal(200);
      const generous = PRICE * BigInt(4 * INTERVAL);
      const paid = await payer.call(
        "POST",
        PROVIDER_PATHS.retrievalPayment(a.retrievalId),
        Buffer.from(await payer.voucher(channel, a.lane, generous), "base64").toString(),
      );
      expect(paid.status, paid.text()).to.equal(200);
      const gotB = await payer.data(b.retrievalId, b.offset);
      expect(gotB.status).to.equal(200);
      expect(gotB.data.length).to.equal(INTERVAL);
      // Lane A's surplus is not lane B's payment, nor room for lane C.
      const nextB = await payer.data(
        b.retrievalId,
        b.offset + INTERVAL,
        await payer.voucher(channel, a.lane, generous),
      );
      expect(nextB.status).to.equal(402);
      expect(nextB.json().error).to.equal("VoucherWrongLane");
      const gotC = await payer.data(c.retrievalId, c.offset);
      expect(gotC.status).to.equal(402);
      expect(gotC.json().error).to.equal("UnpaidLimitReached");
      expect(gotC.json().details).to.deep.include({
        unpaidBytes: INTERVAL,
        owed: (PRICE * BigInt(INTERVAL)).toString(),
      });
      expect(String(gotC.json().details.owedLanes)).to.include(`channel ${channel} lane ${b.lane}`);
    });
  });

  describe("an honest client", () => {
    let retrieval: RetrievalClient;

    before(() => {
      const { clients, contracts, store } = market;
      retrieval = new RetrievalClient({ clients, contracts, store, logger: silentLogger, workDir: market.dir });
    });

    /** Requests provider 1 refused for the unpaid allowance, from its Prometheus metrics. */
    async function refusals(): Promise<number> {
      const text = await (await request(market.providerUrl(1) + PROVIDER_PATHS.metrics)).body.text();
      return text
        .split("\n")
        .filter((l) => /^rm_provider_retrieval_refusals_total\{code="Unpaid/.test(l))
        .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    }

    async function redeemed(channelId: bigint, lane: bigint): Promise<bigint> {
      return (await getLane(market.clients, market.contracts, channelId, lane)).redeemed;
    }

    async function intervalsServed(retrievalId: string): Promise<number> {
      const fetch = retrieval.ledger.fetches(retrievalId)[0];
      const res = await request(market.providerUrl(1) + PROVIDER_PATHS.retrieval(String(fetch.providerRetrievalId)));
      return ((await res.body.json()) as { intervalsServed: number }).intervalsServed;
    }

    it("pays a multi-interval retrieval exactly: redeemed on chain = price × bytes", async () => {
      const piece = await storePiece(1, 6 * INTERVAL + 999);
      const out = join(market.dir, "honest.bin");
      const result = await retrieval.retrievePiece(piece.pieceCid, market.providers[1], out);
      expect((await readFile(out)).equals(piece.bytes)).to.equal(true);
      expect(result.paid).to.equal(PRICE * BigInt(piece.bytes.length));
      expect(await intervalsServed(result.retrievalId)).to.equal(7);
      const [fetch] = retrieval.ledger.fetches(result.retrievalId);
      await waitFor("the provider to redeem the lane", 30_000, async () =>
        (await redeemed(fetch.channelId ?? 0n, fetch.lane ?? 0n)) === result.paid ? true : undefined,
      );
      expect(await refusals()).to.equal(0);
    });

    it("three pieces fetched side by side over one channel each pay exactly, with no refusal or extra request", async () => {
      const pieces = [
        await storePiece(1, 3 * INTERVAL + 17),
        await storePiece(1, 5 * INTERVAL),
        await storePiece(1, 4 * INTERVAL + 1),
      ];
      // Slowed down so the three transfers overlap: one takes the provider's credit and pays after
      // each interval, the two beside it pay for each interval in the request that asks for it.
      const results = await Promise.all(
        pieces.map((p, i) =>
          retrieval.retrievePiece(p.pieceCid, market.providers[1], join(market.dir, `par-${i}.bin`), {
            maxBytesPerSecond: 400_000,
          }),
        ),
      );
      const fetches = results.map((r) => retrieval.ledger.fetches(r.retrievalId)[0]);
      expect(new Set(fetches.map((f) => String(f.channelId))).size).to.equal(1);
      expect(new Set(fetches.map((f) => String(f.lane))).size).to.equal(3);
      for (const [i, p] of pieces.entries()) {
        expect((await readFile(join(market.dir, `par-${i}.bin`))).equals(p.bytes)).to.equal(true);
        expect(results[i].paid).to.equal(PRICE * BigInt(p.bytes.length));
        expect(await intervalsServed(results[i].retrievalId)).to.equal(Math.ceil(p.bytes.length / INTERVAL));
      }
      // On credit: a voucher with every request but the first, the last interval paid after it; in
      // advance: a voucher with every request. Never a refusal and a retry.
      const vouchersSent = results.map((r) => r.events.filter((e) => e.includes("ClientEventPaymentSent")).length);
      const intervals = pieces.map((p) => Math.ceil(p.bytes.length / INTERVAL));
      const onCredit = vouchersSent.filter((n, i) => n === intervals[i] - 1);
      const inAdvance = vouchersSent.filter((n, i) => n === intervals[i]);
      expect([onCredit.length, inAdvance.length]).to.deep.equal([1, 2]);
      expect(results.flatMap((r) => r.events).filter((e) => e.includes("ClientEventPaymentRequested"))).to.be.empty;
      await waitFor("the provider to redeem the three lanes", 30_000, async () => {
        for (const [i, f] of fetches.entries()) {
          if ((await redeemed(f.channelId ?? 0n, f.lane ?? 0n)) !== results[i].paid) return undefined;
        }
        return true;
      });
      expect(await refusals()).to.equal(0);
    });

    it("a fetch refused credit (its client owes an interval elsewhere) pays in advance, exactly", async () => {
      const piece = await storePiece(1, 3 * INTERVAL + 5);
      // The same key on a channel of its own, as another process would: it takes an interval and stops.
      const elsewhere = new RawReader(market, market.clientKey, 1);
      const stray = await elsewhere.open(piece.pieceCid, await elsewhere.channel(10n ** 12n));
      expect((await elsewhere.data(stray.retrievalId, 0)).status).to.equal(200);
      const before = await refusals();
      const result = await retrieval.retrievePiece(
        piece.pieceCid,
        market.providers[1],
        join(market.dir, "refused.bin"),
      );
      expect((await readFile(join(market.dir, "refused.bin"))).equals(piece.bytes)).to.equal(true);
      expect(result.paid).to.equal(PRICE * BigInt(piece.bytes.length));
      expect(result.events.filter((e) => e.includes("ClientEventPaymentRequested"))).to.have.length(1);
      expect(await refusals()).to.equal(before + 1);
      expect(await intervalsServed(result.retrievalId)).to.equal(4);
    });
  });
});
