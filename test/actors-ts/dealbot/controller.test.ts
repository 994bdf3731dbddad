import { expect } from "chai";
import { ethers, network } from "hardhat";
import { getAddress, zeroAddress, type Address } from "viem";
import { silentLogger } from "../../../actors-ts/core/logger";
import { InvalidArgumentError } from "../../../actors-ts/core/errors";
import { DEFAULT_REPUTATION_WINDOW_MS, wilsonLowerBound } from "../../../actors-ts/dealbot/reputation";
import { reputationResponseSchema, type ReputationResponse } from "../../../actors-ts/protocol/reputation-api";
import { getHealth } from "../../../actors-ts/protocol/health-client";
import { ReputationFeed } from "../../../actors-ts/repair/reputation-feed";
import { devAddress } from "../../helpers/agents";
import { waitFor } from "../../helpers/wait";
import { attempt, startTestController, type TestController } from "./in-process-controller";

const DAY_MS = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1);

describe("dealbot controller: reputation over a sliding window", () => {
  const running: TestController[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.close()));
  });

  async function reputationOf(url: string): Promise<ReputationResponse> {
    const res = await fetch(`${url}/api/reputation`);
    expect(res.status).to.equal(200);
    const body = (await res.json()) as ReputationResponse;
    reputationResponseSchema.parse(body);
    return body;
  }

  it("a provider good last week and failing today falls below one succeeding today once its old record leaves the window", async () => {
    let now = T0;
    const t = await startTestController(zeroAddress, { clock: () => now });
    running.push(t);
    const [old, fresh] = [devAddress(3).toLowerCase(), devAddress(4).toLowerCase()];
    // Last week: `old` stores and retrieves ten times in a row.
    for (let i = 0; i < 10; i++) {
      t.controller.record(attempt("storage", old, "success", T0 + i));
      t.controller.record(attempt("retrieval", old, "success", T0 + i));
    }
    // Six days later: `old` fails three times at each; `fresh` succeeds three times at each.
    now = T0 + 6 * DAY_MS;
    for (let i = 0; i < 3; i++) {
      for (const kind of ["storage", "retrieval"] as const) {
        t.controller.record(attempt(kind, old, "failure", now + i));
        t.controller.record(attempt(kind, fresh, "success", now + i));
      }
    }
    let rep = await reputationOf(t.url);
    expect(rep.windowMs).to.equal(DEFAULT_REPUTATION_WINDOW_MS);
    expect(rep.ranking.map((r) => r.provider)).to.deep.equal([old, fresh]);
    const oldEntry = rep.ranking[0];
    expect(oldEntry.storage).to.deep.equal({ successes: 10, attempts: 13, score: wilsonLowerBound(10, 13) });
    expect(oldEntry.proving.attempts).to.equal(0);
    // No proving observations: storage and retrieval renormalised to 0.25 / 0.60 and 0.35 / 0.60.
    expect(rep.scores[old]).to.be.closeTo(wilsonLowerBound(10, 13), 1e-12);

    // The last ms in which last week's successes are inside the window.
    now = T0 + 9 + DEFAULT_REPUTATION_WINDOW_MS - 1;
    rep = await reputationOf(t.url);
    expect(rep.ranking.find((r) => r.provider === old)?.storage.attempts).to.equal(4);
    expect(rep.ranking[0].provider).to.equal(fresh);

    // A week after the good run: only the failures are left.
    now = T0 + 10 + DEFAULT_REPUTATION_WINDOW_MS;
    rep = await reputationOf(t.url);
    expect(rep.ranking.map((r) => r.provider)).to.deep.equal([fresh, old]);
    expect(rep.ranking[1].storage).to.deep.equal({ successes: 0, attempts: 3, score: 0 });
    expect(rep.ranking[1].retrieval).to.deep.equal({ successes: 0, attempts: 3, score: 0 });
    expect(rep.scores[old]).to.equal(0);
    expect(rep.scores[fresh]).to.be.closeTo(wilsonLowerBound(3, 3), 1e-12);

    // The repair miner's feed sees the same order; the records themselves are all still kept.
    const feed = new ReputationFeed(`${t.url}/api/reputation`, silentLogger);
    expect(await feed.refresh()).to.equal(true);
    expect(feed.scores.get(old)).to.equal(0);
    expect(feed.scores.get(fresh)).to.be.closeTo(wilsonLowerBound(3, 3), 1e-12);
    const records = (await (await fetch(`${t.url}/api/records?limit=1000`)).json()) as unknown[];
    expect(records).to.have.length(32);

    // Once `fresh`'s successes age out too, nobody is left in the ranking.
    now = T0 + 6 * DAY_MS + 3 + DEFAULT_REPUTATION_WINDOW_MS;
    rep = await reputationOf(t.url);
    expect(rep.ranking).to.deep.equal([]);
    expect(rep.scores).to.deep.equal({});
  });

  it("takes its window and weights from the settings, shows them with the components, and refuses bad ones", async () => {
    let now = T0;
    const t = await startTestController(zeroAddress, {
      clock: () => now,
      reputationWindowMs: 60_000,
      reputationWeights: { proving: 0.4, retrieval: 0.6, storage: 0 },
    });
    running.push(t);
    const p = getAddress(devAddress(5));
    t.controller.record(attempt("storage", p, "failure", now - 61_000));
    t.controller.record(attempt("storage", p, "success", now - 1_000));
    t.controller.record(attempt("retrieval", p, "success", now - 59_000));
    const rep = await reputationOf(t.url);
    expect(rep.windowMs).to.equal(60_000);
    expect(rep.weights).to.deep.equal({ proving: 0.4, retrieval: 0.6, storage: 0 });
    const [entry] = rep.ranking;
    expect(entry.provider).to.equal(p.toLowerCase());
    expect(entry.storage).to.deep.equal({ successes: 1, attempts: 1, score: wilsonLowerBound(1, 1) });
    // Storage weighs 0: the score is retrieval's bound alone.
    expect(entry.score).to.be.closeTo(wilsonLowerBound(1, 1), 1e-12);
    // The dashboard's data carries the same components, and the metrics one gauge per component.
    const summary = (await (await fetch(`${t.url}/api/summary`)).json()) as ReputationResponse;
    expect(summary.ranking[0].retrieval).to.deep.equal(entry.retrieval);
    expect(summary.windowMs).to.equal(60_000);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).to.include(
      `rm_dealbot_provider_component_score{provider="${p.toLowerCase()}",component="retrieval"} ${wilsonLowerBound(1, 1)}`,
    );
    const html = await (await fetch(`${t.url}/`)).text();
    expect(html).to.include('<th class="num">proving</th>');

    now += 120_000;
    expect((await reputationOf(t.url)).ranking).to.deep.equal([]);

    for (const bad of [{ reputationWindowMs: 0 }, { reputationWeights: { proving: 0, retrieval: 0, storage: 0 } }]) {
      let err: unknown;
      try {
        running.push(await startTestController(zeroAddress, bad));
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(InvalidArgumentError);
    }
  });
  it("/healthz in the daemons' shape; a chain reset under it halts its schedules and answers 503", async () => {
    const snapshot = (await network.provider.send("evm_snapshot", [])) as string;
    const token = await ethers.deployContract("PaymentToken", ["T", "T", 1000n]);
    const receipt = await token.deploymentTransaction()?.wait();
    const market = (await token.getAddress()) as Address;
    const t = await startTestController(market, {
      provingSyncIntervalMs: 100,
      chainCheckIntervalMs: 100,
      deployment: { chainId: 31337, deployBlock: receipt?.blockNumber ?? 0, contracts: { StorageMarket: market } },
    });
    running.push(t);
    const well = await waitFor("the controller's loops past their first round", 10_000, async () => {
      const h = await getHealth(t.url);
      return h.loops.proving?.lastSuccessAt && h.loops.chain?.lastSuccessAt ? h : undefined;
    });
    expect(well.ok).to.equal(true);
    expect(well.role).to.equal("dealbot-controller");
    expect(well.chain.deployment).to.deep.include({ block: String(receipt?.blockNumber), present: true });
    // The chain goes back to before the deployment: the controller stops and says why.
    await network.provider.send("evm_revert", [snapshot]);
    const halted = await waitFor("the controller to halt", 10_000, async () => {
      const response = await fetch(`${t.url}/healthz`);
      const h = await getHealth(t.url);
      return response.status === 503 && h.halted ? h : undefined;
    });
    expect(halted.halted?.reason).to.match(/no longer has the deployment from block \d+/);
    const skipped = halted.loops.proving?.skippedRounds ?? 0;
    await waitFor("proving rounds skipped while halted", 10_000, async () =>
      ((await getHealth(t.url)).loops.proving?.skippedRounds ?? 0) > skipped ? true : undefined,
    );
  });
});
