import { expect } from "chai";
import { ethers } from "hardhat";
import { getAddress, type Address } from "viem";
import {
  MAX_PROVING_LOG_RANGE_BLOCKS,
  firstBlockAtOrAfter,
  provingEvents,
} from "../../../actors-ts/chain/storage-market/proving-events";
import { InvalidArgumentError } from "../../../actors-ts/core/errors";
import { wilsonLowerBound } from "../../../actors-ts/dealbot/reputation";
import type { ReputationResponse } from "../../../actors-ts/protocol/reputation-api";
import {
  advanceToChallengeWindow,
  advanceToNextPeriod,
  dataSetOf,
  deployMarket,
  makePiece,
  publishDeals,
  type MarketFixture,
} from "../../contracts/helpers/market";
import { TestProver } from "../../contracts/helpers/prover";
import { attempt, inProcessClients, startTestController, type TestController } from "./in-process-controller";

/** Latest block's timestamp, ms: the controller's clock in these tests follows the chain's. */
async function chainNowMs(): Promise<number> {
  const block = await ethers.provider.getBlock("latest");
  return Number(block?.timestamp ?? 0) * 1000;
}

describe("dealbot controller: the proving component from StorageMarket events", () => {
  let f: MarketFixture;
  let market: Address;
  let provers: TestProver[];
  let t: TestController | undefined;
  /** The last block before this suite's market, and the time of the block after it (ms). */
  let startBlock: bigint;
  let startMs: number;

  /** Proves the current period of both providers' data sets, then moves both into the next one. */
  async function proveBoth(): Promise<void> {
    for (const prover of provers) {
      await advanceToChallengeWindow(f.market, prover.signer.address);
      await prover.prove();
    }
    await advanceToNextPeriod(f.market, provers[1].signer.address);
  }

  before(async () => {
    startBlock = BigInt(await ethers.provider.getBlockNumber());
    f = await deployMarket();
    startMs = Number((await ethers.provider.getBlock(Number(startBlock) + 1))?.timestamp) * 1000;
    market = getAddress(await f.market.getAddress());
    const [a] = await publishDeals(f, [makePiece(2000)], { provider: f.provider });
    const [b] = await publishDeals(f, [makePiece(2000)], { provider: f.provider2 });
    provers = [new TestProver(f.market, f.provider).track(a), new TestProver(f.market, f.provider2).track(b)];
  });

  after(async () => {
    await t?.close();
  });

  it("reads PossessionProven and FaultRecorded in ranges of at most 2,000 blocks, with block times", async () => {
    const from = BigInt(await ethers.provider.getBlockNumber());
    await proveBoth();
    const to = BigInt(await ethers.provider.getBlockNumber());
    const clients = await inProcessClients(0);
    const events = await provingEvents(clients, market, from, to);
    expect(events.map((e) => [e.kind, e.provider, e.period])).to.deep.equal([
      ["proven", f.provider.address.toLowerCase(), 0],
      ["proven", f.provider2.address.toLowerCase(), 0],
    ]);
    expect(events[0].dataSetId).to.equal(await dataSetOf(f.market, f.provider.address));
    const block = await ethers.provider.getBlock(Number(events[0].blockNumber));
    expect(events[0].blockTimeMs).to.equal(Number(block?.timestamp) * 1000);
    for (const [lo, hi] of [
      [from, from + MAX_PROVING_LOG_RANGE_BLOCKS],
      [to, to - 1n],
    ])
      await provingEvents(clients, market, lo, hi).then(
        () => expect.fail(`range ${lo}..${hi} accepted`),
        (err: unknown) => expect(err).to.be.instanceOf(InvalidArgumentError),
      );
    // The binary search finds the first block of a given time.
    expect(await firstBlockAtOrAfter(clients, events[0].blockTimeMs)).to.be.at.most(events[0].blockNumber);
    expect(await firstBlockAtOrAfter(clients, (await chainNowMs()) + 1000)).to.equal(
      BigInt(await ethers.provider.getBlockNumber()) + 1n,
    );
  });

  it("a provider whose missed periods are recorded on chain drops below one that keeps proving", async () => {
    await proveBoth();
    let nowMs = await chainNowMs();
    // The window reaches back to this suite's market: a first sync starts there, not at block 0
    // (other suites in this process may have mined many blocks before). Small ranges, so one
    // sync reads many of them.
    const windowMs = nowMs - startMs;
    t = await startTestController(market, { clock: () => nowMs, provingChunkBlocks: 7, reputationWindowMs: windowMs });
    const [a, b] = [f.provider.address.toLowerCase(), f.provider2.address.toLowerCase()];
    const first = await t.controller.syncProving();
    expect(first.fromBlock).to.be.within(startBlock, startBlock + 1n);
    expect(first.toBlock).to.equal(BigInt(await ethers.provider.getBlockNumber()));
    expect(first.events).to.equal(4);
    expect(t.controller.store.provingCursor(market)).to.equal(first.toBlock + 1n);
    // Proving alone does not rank a provider the bots never tried.
    let rep = (await (await fetch(`${t.url}/api/reputation`)).json()) as ReputationResponse;
    expect(rep.ranking).to.deep.equal([]);
    // Both providers store once for the bots: the score mixes storage and proving.
    for (const p of [a, b]) t.controller.record(attempt("storage", p, "success", nowMs));
    rep = (await (await fetch(`${t.url}/api/reputation`)).json()) as ReputationResponse;
    const before = Object.fromEntries(rep.ranking.map((r) => [r.provider, r]));
    expect(before[a].proving).to.deep.equal({ successes: 2, attempts: 2, score: wilsonLowerBound(2, 2) });
    expect(before[a].score).to.be.closeTo(before[b].score, 1e-12);

    // Provider a stops proving; a reporter records two missed periods. Provider b proves on.
    for (let i = 0; i < 2; i++) {
      await advanceToChallengeWindow(f.market, f.provider2.address);
      await provers[1].prove();
      await advanceToNextPeriod(f.market, f.provider2.address);
      await f.market.connect(f.reporter).reportFault(await dataSetOf(f.market, f.provider.address));
    }
    // The clock stays put: the window still covers every event of this suite (later blocks count).
    const second = await t.controller.syncProving();
    // Only the blocks mined since the first sync are read.
    expect(second.fromBlock).to.equal(first.toBlock + 1n);
    expect(second.events).to.equal(4);
    rep = (await (await fetch(`${t.url}/api/reputation`)).json()) as ReputationResponse;
    const after = Object.fromEntries(rep.ranking.map((r) => [r.provider, r]));
    expect(after[a].proving).to.deep.equal({ successes: 2, attempts: 4, score: wilsonLowerBound(2, 4) });
    expect(after[b].proving).to.deep.equal({ successes: 4, attempts: 4, score: wilsonLowerBound(4, 4) });
    expect(after[a].score).to.be.lessThan(before[a].score);
    expect(rep.ranking.map((r) => r.provider)).to.deep.equal([b, a]);
    const expected = (0.25 * wilsonLowerBound(1, 1) + 0.4 * wilsonLowerBound(2, 4)) / 0.65;
    expect(rep.scores[a]).to.be.closeTo(expected, 1e-12);

    // Nothing new: nothing read. A window later the chain's record has left it too.
    const third = await t.controller.syncProving();
    expect(third.fromBlock).to.be.greaterThan(third.toBlock);
    nowMs += windowMs + 60_000;
    rep = (await (await fetch(`${t.url}/api/reputation`)).json()) as ReputationResponse;
    expect(rep.ranking).to.deep.equal([]);
  });
});
