import { expect } from "chai";
import { LoopHealth } from "../../../actors-ts/core/loop-health";
import { healthResponse, healthResponseSchema } from "../../../actors-ts/protocol/health-api";
import { waitFor } from "../../helpers/wait";

/** A clock the test moves by hand, ms since the epoch. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe("LoopHealth: every loop's last round, and the gate that stops them", () => {
  it("records successes and failures of each round run through it", async () => {
    const loops = new LoopHealth();
    const controller = new AbortController();
    let round = 0;
    const errors: unknown[] = [];
    // Rounds 1 and 2 fail, 3 succeeds, 4 fails: then the loop is stopped.
    const loop = loops.run(
      "worker",
      1,
      controller.signal,
      async () => {
        round++;
        if (round === 3) return;
        throw new Error(`round ${round} failed\nwith a stack below`);
      },
      (err) => errors.push(err),
    );
    await waitFor("four rounds", 10_000, async () => (round >= 4 ? true : undefined));
    controller.abort();
    await loop;
    const record = loops.snapshot().worker;
    expect(record?.intervalMs).to.equal(1);
    expect(record?.lastSuccessAt).to.be.a("number");
    expect(record?.lastError).to.match(/^round \d+ failed$/);
    expect(record?.consecutiveFailures).to.be.greaterThan(0);
    expect(record?.running).to.equal(false);
    expect(errors.length).to.be.greaterThanOrEqual(3);
  });

  it("skips the rounds of gated loops while the gate gives a reason, not the ungated one's", async () => {
    const loops = new LoopHealth();
    let reason: string | undefined = "halted: the chain was reset";
    loops.setGate(() => reason);
    const controller = new AbortController();
    const ran = { gated: 0, ungated: 0 };
    const gated = loops.run(
      "gated",
      1,
      controller.signal,
      async () => void ran.gated++,
      () => undefined,
    );
    const ungated = loops.run(
      "guard",
      1,
      controller.signal,
      async () => void ran.ungated++,
      () => undefined,
      {
        ungated: true,
      },
    );
    await waitFor("skipped rounds", 10_000, async () =>
      (loops.snapshot().gated?.skippedRounds ?? 0) >= 3 && ran.ungated >= 3 ? true : undefined,
    );
    expect(ran.gated).to.equal(0);
    expect(loops.pauseReason()).to.equal(reason);
    reason = undefined;
    await waitFor("the gated loop to run again", 10_000, async () => (ran.gated > 0 ? true : undefined));
    controller.abort();
    await Promise.all([gated, ungated]);
    expect(loops.snapshot().gated?.lastSuccessAt).to.be.a("number");
  });

  it("a loop is stale once it has failed for max(5 intervals, 60 s), not while its last round succeeded", () => {
    const clock = manualClock();
    const loops = new LoopHealth({ now: clock.now });
    loops.register("fast", 500);
    loops.register("slow", 30_000);
    loops.register("fine", 500);
    loops.succeeded("fast");
    loops.succeeded("slow");
    loops.succeeded("fine");
    clock.advance(1_000);
    loops.failed("fast", new Error("RPC down"));
    loops.failed("slow", new Error("RPC down"));
    clock.advance(59_000);
    expect(loops.stale(), "a fast loop gets at least a minute").to.deep.equal([]);
    clock.advance(1_001);
    expect(loops.stale().map((s) => s.name)).to.deep.equal(["fast"]);
    clock.advance(90_000);
    const stale = loops.stale();
    expect(stale.map((s) => s.name)).to.deep.equal(["fast", "slow"]);
    expect(stale[1]?.failingForMs).to.equal(151_001);
    expect(stale[1]?.lastError).to.equal("RPC down");
    // "fine" never failed: a long quiet spell is not a failure.
    loops.succeeded("fast");
    expect(loops.stale().map((s) => s.name)).to.deep.equal(["slow"]);
  });

  it("/healthz: 200 when all is well, 503 with every reason and the same shape when not", () => {
    const clock = manualClock(Date.parse("2026-12-08T10:00:00Z"));
    const loops = new LoopHealth({ now: clock.now });
    loops.register("prover", 500);
    loops.succeeded("prover");
    const chain = {
      chainId: 31337,
      rpcEndpoint: "http://127.0.0.1:8545",
      rpcReachable: true,
      head: { number: 42n, timestampMs: clock.now() - 1_500 },
      checkedAt: clock.now(),
      deployment: { block: 5n, hash: `0x${"11".repeat(32)}`, source: "data dir" as const, present: true },
    };
    const base = { role: "provider" as const, version: "0.1.0", loops: loops.snapshot(), now: clock.now() };
    const well = healthResponse({ ...base, chain, stale: [] });
    expect(well.statusCode).to.equal(200);
    const body = healthResponseSchema.parse(well.body);
    expect(body.ok).to.equal(true);
    expect(body.reason).to.equal(undefined);
    expect(body.chain).to.deep.include({ chainId: 31337, rpcReachable: true, head: "42", headAgeMs: 1_500 });
    expect(body.chain.deployment).to.deep.equal({
      block: "5",
      hash: chain.deployment.hash,
      hashFrom: "data dir",
      present: true,
    });
    expect(body.loops.prover?.lastSuccessAt).to.equal("2026-12-08T10:00:00.000Z");

    const halted = { reason: "the chain … was reset — redeploy …", since: clock.now() };
    const ill = healthResponse({
      ...base,
      chain: { ...chain, rpcReachable: false, rpcError: "ECONNREFUSED", halted },
      stale: [{ name: "prover", failingForMs: 61_000, lastError: "RPC down" }],
    });
    expect(ill.statusCode).to.equal(503);
    const illBody = healthResponseSchema.parse(ill.body);
    expect(illBody.ok).to.equal(false);
    expect(illBody.reason).to.equal(
      `halted: ${halted.reason}; the chain's JSON-RPC endpoint http://127.0.0.1:8545 does not answer: ECONNREFUSED; ` +
        "loop prover has not succeeded for 61 s: RPC down",
    );
    expect(illBody.halted).to.deep.equal({ reason: halted.reason, since: "2026-12-08T10:00:00.000Z" });
    expect(Object.keys(illBody).sort()).to.deep.equal([...Object.keys(body), "halted", "reason"].sort());
  });
});
