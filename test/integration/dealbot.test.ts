import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import { registerProvider } from "../../actors-ts/chain/registry/register";
import { listProviders } from "../../actors-ts/chain/registry/reads";
import { ClientStore } from "../../actors-ts/client/client-store";
import { silentLogger } from "../../actors-ts/core/logger";
import { DEFAULT_STAGE_LIMITS, runStorageAttempt, type BotDeps } from "../../actors-ts/dealbot/bots";
import { DealbotController } from "../../actors-ts/dealbot/controller";
import type { DealbotRecord } from "../../actors-ts/dealbot/record";
import { ReputationFeed } from "../../actors-ts/repair/reputation-feed";
import { rankForPlacement } from "../../actors-ts/repair/placement-rules";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";

// Seed 004 against real providers on a devnet: one good, one that refuses deals, one that dies
// mid-transfer, one that serves corrupted bytes (and, for stage timeouts, one that never answers).

const BOT = 1;
const GOOD = 2;
const REFUSES = 3;
const DIES = 4;
const CORRUPT = 5;
const SILENT = 6;
const SIZE = 1024 * 1024;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("dealbots: storage and retrieval bots, controller, reputation, dashboard", function () {
  this.timeout(300_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let dir: string;
  let deployment: Deployment;
  const providers = new Map<number, DaemonProcess>();
  let blackHole: Server;
  const sockets = new Set<Socket>();
  const storage = new Map<number, DealbotRecord>();
  const retrieval = new Map<number, DealbotRecord>();
  let controller: DealbotController | undefined;
  let deps: BotDeps | undefined;

  const addr = (n: number) => getAddress(devAddress(n));

  function providerArgs(n: number, extra: string[]): string[] {
    return [
      ...["--port", "0", "--data-dir", join(dir, `provider-${n}`), "--key", devKey(n), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--publish-interval-ms", "300", "--prove-interval-ms", "500"],
      ...["--settle-interval-ms", "60000", "--scrub-interval-ms", "600000", "--redeem-interval-ms", "60000"],
      ...extra,
    ];
  }

  /** `repair-market dealbot <kind>` over `tasks`; its JSON records in order. */
  async function bot(kind: "storage" | "retrieval", tasks: unknown[], extra: string[] = []): Promise<DealbotRecord[]> {
    const input = join(dir, `${kind}-${Date.now()}.json`);
    await writeFile(input, tasks.map((t) => JSON.stringify(t)).join("\n"));
    const r = await runCli([
      ...["dealbot", kind, "--input", input, "--key", devKey(BOT), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "bot"), ...extra],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const records = r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as DealbotRecord);
    expect(records.length, r.stdout).to.equal(tasks.length);
    return records;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-dealbot-"));
    // Mined by a pacer: the providers that keep deals are never late for a period.
    devnet = await startPacedDevnet(500);
    deployment = await deployTo(devnet, join(dir, "deployments"), {
      provingPeriodEpochs: 30,
      challengeWindowEpochs: 10,
    });
    devnet.pacer.setMarket(deployment.contracts.StorageMarket as Address);
    devnet.pacer.watch(devAddress(GOOD), devAddress(CORRUPT));
    await fundTokens(
      devnet,
      deployment,
      [BOT, GOOD, REFUSES, DIES, CORRUPT, SILENT].map((n) => devAddress(n)),
      10n ** 24n,
    );
    const started = await Promise.all([
      startDaemon("provider", providerArgs(GOOD, [])),
      startDaemon("provider", providerArgs(REFUSES, ["--fault", "refuse-deals"])),
      startDaemon("provider", providerArgs(DIES, ["--die-after-received-bytes", String(SIZE / 4)])),
      startDaemon("provider", providerArgs(CORRUPT, ["--fault", "corrupt-reads"])),
    ]);
    [GOOD, REFUSES, DIES, CORRUPT].forEach((n, i) => providers.set(n, started[i]));
    // A registered provider whose endpoint accepts connections and never answers.
    blackHole = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    const port = (blackHole.address() as { port: number }).port;
    const silent = await connectChain(devnet.rpcUrl, privateKeyToAccount(devKey(SILENT)));
    await registerProvider(silent, contractsOf(deployment), `http://127.0.0.1:${port}`, {
      storageAsk: { pricePerBytePerEpoch: 1n, minPieceSize: 128n, maxPieceSize: 1n << 34n, collateralPerByte: 1n },
      retrievalAsk: { pricePerByte: 1n, paymentIntervalBytes: 1n << 20n, paymentIntervalIncreaseBytes: 1n << 20n },
    });
  });

  after(async () => {
    await controller?.stop();
    deps?.store?.close();
    await Promise.all([...providers.values()].map((p) => p.stop()));
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => blackHole?.close(resolve));
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("storage bot: one JSON record per task; refusals fail at propose, a provider dying mid-upload at transfer", async () => {
    const records = await bot(
      "storage",
      [GOOD, REFUSES, DIES, CORRUPT].map((n) => ({ provider: addr(n), size: SIZE })),
    );
    [GOOD, REFUSES, DIES, CORRUPT].forEach((n, i) => storage.set(n, records[i]));
    for (const r of records) {
      expect(r.kind).to.equal("storage");
      expect(r.softwareVersion).to.match(/^\d+\.\d+\.\d+/);
      expect(r.chain.chainId).to.equal(31337);
      expect(r.chain.clientVersion).to.match(/HardhatNetwork/i);
      expect(Number.isNaN(Date.parse(r.datetime))).to.equal(false);
      expect(r.tailLog.length).to.be.greaterThan(0);
      expect(r.eventList[0]).to.match(/^Recv: 0 B, Paid 0, ClientEventOpen \(/);
      expect(r.dealParameters.sizeInBytes).to.equal(SIZE);
      expect(r.dealParameters.sha256).to.match(/^[0-9a-f]{64}$/);
      // Seed 004's flags, false in this market (no datacap, nothing sealed).
      expect(r.dealParameters.verified).to.equal(false);
      expect(r.dealParameters.fastRetrievalFlag).to.equal(false);
    }
    const good = storage.get(GOOD) as DealbotRecord;
    expect(good.status, good.errorMessage).to.equal("success");
    expect(good.dealParameters.dealId).to.match(/^\d+$/);
    expect(good.dealParameters.pieceCid).to.match(/^bafk/);
    expect(good.bytesTransferred).to.equal(SIZE);
    expect(good.timings.timeToFirstByteMs).to.be.a("number");
    expect(good.timings.timeToLastByteMs).to.be.at.least(good.timings.timeToFirstByteMs as number);
    expect(good.timings.onChainConfirmationMs).to.be.a("number");
    expect(good.eventList.at(-1)).to.include("ClientEventDealPublished");

    const refused = storage.get(REFUSES) as DealbotRecord;
    expect(refused.status).to.equal("failure");
    expect(refused.failedAt).to.equal("propose");
    expect(refused.errorMessage).to.include("RefusedByPolicy");
    expect(refused.errorMessage).to.include(addr(REFUSES));

    const died = storage.get(DIES) as DealbotRecord;
    expect(died.status).to.equal("failure");
    expect(died.failedAt).to.equal("transfer");
    expect(died.errorMessage).to.include(addr(DIES));
    expect(died.bytesTransferred).to.be.greaterThan(0);
    expect(died.tailLog).to.include("attempt failed");
    await waitFor("the dying provider to be gone", 10_000, async () =>
      providers.get(DIES)?.process.signalCode === "SIGKILL" ? true : undefined,
    );

    expect((storage.get(CORRUPT) as DealbotRecord).status).to.equal("success");
  });

  it("retrieval bot: paid and verified from the good provider; corrupt bytes fail at verify, a dead or refusing provider at open", async () => {
    const goodCid = storage.get(GOOD)?.dealParameters.pieceCid as string;
    const corruptCid = storage.get(CORRUPT)?.dealParameters.pieceCid as string;
    // A whole file, erasure-coded 1 + 1 over the good and the corrupt provider by the bot's own
    // client (same data dir), to be retrieved by droot.
    const file = randomBytes(300_000);
    await writeFile(join(dir, "whole.bin"), file);
    const stored = await runCli([
      ...["client", "store", join(dir, "whole.bin"), "--providers", `${addr(GOOD)},${addr(CORRUPT)}`, "--k", "1"],
      ...["--m", "1", "--key", devKey(BOT), "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "bot"), "--json"],
    ]);
    expect(stored.code, stored.stderr + stored.stdout).to.equal(0);
    const droot = (JSON.parse(stored.stdout) as { droot: string }).droot;
    const records = await bot("retrieval", [
      { pieceCid: goodCid, provider: addr(GOOD) },
      { pieceCid: corruptCid, provider: addr(CORRUPT) },
      { pieceCid: goodCid, provider: addr(DIES) },
      { pieceCid: goodCid, provider: addr(REFUSES) },
      { droot: `0x${"cd".repeat(32)}` },
      { droot },
    ]);
    [GOOD, CORRUPT, DIES, REFUSES].forEach((n, i) => retrieval.set(n, records[i]));
    // A whole file nobody stored: fails where the manifest is looked for, and says so.
    const unknown = records[4];
    expect(unknown.status).to.equal("failure");
    expect(unknown.failedAt).to.equal("open");
    expect(unknown.dealParameters.droot).to.equal(`0x${"cd".repeat(32)}`);
    expect(unknown.errorMessage).to.match(/manifest/i);
    const whole = records[5];
    expect(whole.status, whole.errorMessage).to.equal("success");
    expect(whole.dealParameters.sha256).to.equal(createHash("sha256").update(file).digest("hex"));
    expect(whole.dealParameters.sizeInBytes).to.equal(file.length);
    expect(BigInt(whole.paid)).to.be.greaterThan(0n);
    const good = retrieval.get(GOOD) as DealbotRecord;
    expect(good.status, good.errorMessage).to.equal("success");
    expect(good.dealParameters.sha256).to.equal(storage.get(GOOD)?.dealParameters.sha256);
    expect(BigInt(good.paid)).to.be.greaterThan(0n);
    expect(good.timings.timeToFirstByteMs).to.be.a("number");
    expect(good.eventList.some((e) => /^Recv: \d+ B, Paid \d+, ClientEventComplete \(DealStatusCompleted\)$/.test(e)))
      .to.be.true;

    const corrupt = retrieval.get(CORRUPT) as DealbotRecord;
    expect(corrupt.status).to.equal("failure");
    expect(corrupt.failedAt).to.equal("verify");
    expect(corrupt.errorMessage).to.include("PieceCommitmentMismatchError");

    const dead = retrieval.get(DIES) as DealbotRecord;
    expect(dead.failedAt).to.equal("open");
    expect(dead.errorMessage).to.include("cannot reach");
    expect(dead.errorMessage).to.include(addr(DIES));

    const refusing = retrieval.get(REFUSES) as DealbotRecord;
    expect(refusing.failedAt).to.equal("open");
    expect(refusing.errorMessage).to.include(addr(REFUSES));
  });

  it("an attempt that stops making progress fails with its stage named, never a hang", async () => {
    const started = Date.now();
    const [record] = await bot("storage", [{ provider: addr(SILENT), size: 4096 }], ["--stall-ms", "2000"]);
    expect(record.status).to.equal("failure");
    expect(record.failedAt).to.equal("propose");
    expect(record.errorMessage).to.include("made no progress for 2000 ms");
    expect(Date.now() - started).to.be.lessThan(60_000);
    // Malformed input: a clear error naming the line and field, nothing attempted.
    await writeFile(join(dir, "bad.json"), '{"provider":"random","size":1000}\n{"provider":"0x12","size":10}\n');
    const bad = await runCli([
      ...["dealbot", "storage", "--input", join(dir, "bad.json"), "--key", devKey(BOT), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "bot")],
    ]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/line 2: provider/);
    expect(bad.stdout).to.equal("");
    // The same tasks piped on stdin (no --input) are read and checked the same way.
    const piped = await runCli(
      [
        ...["dealbot", "storage", "--key", devKey(BOT), "--rpc", devnet.rpcUrl],
        ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "bot")],
      ],
      {},
      180_000,
      '{"provider":"random","size":1000}\n{"provider":"0x12","size":10}\n',
    );
    expect(piped.code).to.equal(1);
    expect(piped.stderr).to.match(/line 2: provider/);
    expect(piped.stdout).to.equal("");
  });

  it("reputation ranks the good provider first, and repair placement follows the scores as they change", async () => {
    deps = {
      clients: await connectChain(devnet.rpcUrl, privateKeyToAccount(devKey(BOT))),
      contracts: contractsOf(deployment),
      store: new ClientStore(join(dir, "in-process-bot", "client.sqlite")),
      workDir: join(dir, "in-process-bot", "work"),
      limits: DEFAULT_STAGE_LIMITS,
    };
    controller = new DealbotController(
      {
        host: "127.0.0.1",
        port: 0,
        dbPath: join(dir, "controller", "controller.sqlite"),
        storageIntervalMs: 0,
        retrievalIntervalMs: 0,
        sizes: [SIZE],
        maxProviderLabels: 10,
        // Scores from the dealbot records alone: the chain's proving record depends on how many
        // proving periods each provider had proven by now, which varies with the machine's load.
        // Proving is scored by the controller tests against a fixed proving history.
        provingSyncIntervalMs: 0,
      },
      deps,
      silentLogger,
    );
    const { url } = await controller.start();
    for (const r of [...storage.values(), ...retrieval.values()]) controller.record(r);
    const reputation = (await (await fetch(`${url}/api/reputation`)).json()) as {
      ranking: { provider: string; score: number }[];
    };
    const order = reputation.ranking.map((r) => getAddress(r.provider));
    // good 2/2, corrupt 1/2 (stores, serves bad bytes), refusing and dying 0/2.
    const proven = reputation.ranking as unknown as { proving: { attempts: number } }[];
    expect(proven.every((r) => r.proving.attempts === 0)).to.equal(true);
    expect(order[0]).to.equal(addr(GOOD));
    expect(order[1]).to.equal(addr(CORRUPT));
    expect(order.slice(2).sort()).to.deep.equal([addr(REFUSES), addr(DIES)].sort());

    // The repair miner's feed reads the same scores; placement ranks by them.
    const feed = new ReputationFeed(`${url}/api/reputation`, silentLogger);
    const registered = (await listProviders(deps.clients, deps.contracts)).filter((p) =>
      [addr(GOOD), addr(CORRUPT)].includes(getAddress(p.address)),
    );
    const placementOrder = () =>
      rankForPlacement(registered, (a: Address) => feed.scores.get(a.toLowerCase())).map((p) => getAddress(p.address));
    expect(await feed.refresh()).to.equal(true);
    expect(placementOrder()).to.deep.equal([addr(GOOD), addr(CORRUPT)]);
    // The corrupt provider keeps taking storage deals: its score passes the good one's
    // (storage 5/5 and retrieval 0/1 ≈ 0.236 against 1/1 and 1/1 ≈ 0.207, Wilson lower bounds).
    for (let i = 0; i < 4; i++) {
      const r = await runStorageAttempt(deps, { provider: addr(CORRUPT), size: 64 * 1024 });
      expect(r.status, r.errorMessage).to.equal("success");
      controller.record(r);
    }
    expect(await feed.refresh()).to.equal(true);
    expect(
      (feed.scores.get(addr(CORRUPT).toLowerCase()) as number) > (feed.scores.get(addr(GOOD).toLowerCase()) as number),
    ).to.be.true;
    expect(placementOrder()).to.deep.equal([addr(CORRUPT), addr(GOOD)]);

    // Prometheus: bounded labels, stage failures, latency histograms.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).to.match(
      /rm_dealbot_attempts_total\{kind="storage",provider="0x[0-9a-f]{40}",status="success"\} \d+/,
    );
    expect(metrics).to.include('rm_dealbot_stage_failures_total{kind="retrieval",stage="verify"} 1');
    expect(metrics).to.include('rm_dealbot_stage_failures_total{kind="storage",stage="propose"}');
    expect(metrics).to.include("rm_dealbot_time_to_first_byte_seconds_bucket");
    expect(metrics).to.include("rm_dealbot_provider_score");
  });

  it("the controller process schedules storage and retrievals, keeps records in SQLite, and stops cleanly on SIGTERM", async () => {
    const daemon = await startDaemon("dealbot", [
      ...["--port", "0", "--key", devKey(BOT), "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "controller-process"), "--storage-every-ms", "1000", "--retrieval-every-ms", "1000"],
      ...["--sizes", "65536", "131072", "--stall-ms", "3000"],
    ]);
    try {
      const records = await waitFor(
        "a stored piece retrieved again by the controller",
        120_000,
        async () => {
          const all = (await (await fetch(`${daemon.url}/api/records?limit=200`)).json()) as DealbotRecord[];
          return all.some((r) => r.kind === "retrieval") ? all : undefined;
        },
        () => daemon.output(),
      );
      const providersTried = new Set(records.map((r) => getAddress(r.dealParameters.provider)));
      expect([...providersTried].every((p) => [GOOD, REFUSES, DIES, CORRUPT, SILENT].map(addr).includes(p))).to.be.true;
      expect(records.some((r) => r.kind === "storage" && r.status === "success")).to.be.true;
      // The controller keeps scheduling meanwhile: the ranking covers at least the providers of
      // the records read before it and at most those of the records read after it.
      const summary = (await (await fetch(`${daemon.url}/api/summary`)).json()) as {
        ranking: { provider: string }[];
      };
      const later = (await (await fetch(`${daemon.url}/api/records?limit=1000`)).json()) as DealbotRecord[];
      const ranked = new Set(summary.ranking.map((r) => getAddress(r.provider)));
      const triedByThen = new Set(later.map((r) => getAddress(r.dealParameters.provider)));
      expect(
        [...providersTried].every((p) => ranked.has(p)),
        `ranking ${[...ranked]}`,
      ).to.equal(true);
      expect(
        [...ranked].every((p) => triedByThen.has(p)),
        `ranking ${[...ranked]}`,
      ).to.equal(true);
      // Each record was also printed as one JSON line.
      const lines = daemon
        .output()
        .split("\n")
        .filter((l) => l.startsWith('{"kind":'));
      expect(lines.length).to.be.at.least(records.length);
    } finally {
      await daemon.stop();
    }
    expect(daemon.process.exitCode).to.equal(0);
  });

  it("the dashboard renders in headless Chromium: ranking, rate over time, failures by stage, latencies, the latest failures", async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.RM_REQUIRE_CHROMIUM === "1")
        throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium`);
      this.skip();
    }
    const { chromium } = await import("playwright-core");
    const url = controller?.url as string;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(url);
      await page.waitForSelector("body[data-ready='1']", { timeout: 20_000 });
      const rows = await page.$$eval("#ranking tbody tr", (trs) =>
        trs.map((tr) => (tr as unknown as { dataset: Record<string, string> }).dataset.provider),
      );
      expect(rows.map((r) => getAddress(r))[0]).to.equal(addr(CORRUPT));
      expect(rows.length).to.equal(4);
      // Every chart drew something: a canvas with non-blank pixels.
      for (const id of ["rate", "failures", "latency"]) {
        const inked = await page.$eval(`#${id}`, (c) => {
          const canvas = c as unknown as {
            width: number;
            height: number;
            getContext(
              kind: "2d",
            ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
          };
          const data = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
          let n = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
          return n;
        });
        expect(inked, `chart #${id} is blank`).to.be.greaterThan(500);
      }
      // The latest failures, each with its provider, stage and message.
      const failures = await page.$$eval("#recent-failures tbody tr", (trs) =>
        trs.map((tr) =>
          Array.from(
            (
              tr as unknown as { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> }
            ).querySelectorAll("td"),
          ).map((td) => td.textContent ?? ""),
        ),
      );
      expect(failures.length, "no recent failures listed").to.be.greaterThan(0);
      for (const [, kind, provider, stage, message] of failures) {
        expect(["storage", "retrieval"]).to.include(kind);
        expect(provider).to.not.equal("");
        expect(stage).to.not.equal("");
        expect(message).to.not.equal("");
      }
      expect(await page.textContent("#error")).to.equal("");
      expect(errors).to.deep.equal([]);
      await mkdir("test-output", { recursive: true });
      const shot = join("test-output", "dealbot-dashboard.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).to.be.greaterThan(10_000);
    } finally {
      await browser.close();
    }
  });
});
