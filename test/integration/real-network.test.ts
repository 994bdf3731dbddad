import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevnet, runNode, type Devnet } from "../../scripts/lib/devnet";
import { StrictRpcProxy } from "../../scripts/lib/strict-rpc-proxy";
import { superviseSuiteProcesses } from "../helpers/process-logs";

const TSX = join(__dirname, "..", "..", "node_modules", "tsx", "dist", "cli.mjs");
const DEMO = join(__dirname, "..", "..", "scripts", "demo.ts");

interface DemoResult {
  ok: boolean;
  error?: { message: string };
  summary?: {
    unexpectedLosses: number;
    minerLockedForEndedDeals: string;
    retrievalPaid: string;
    chain: string;
    coding: string;
    wan: Record<string, { connections: number; bytesToTarget: number; bytesFromTarget: number; resets: number }> | null;
  };
}

/** Runs `npm run demo -- …args --json` as a child process; its JSON answer. */
async function demo(args: string[], timeoutMs: number): Promise<{ result: DemoResult; output: string }> {
  const run = await runNode([TSX, DEMO, ...args, "--json"], { timeoutMs });
  const json = run.stdout.slice(run.stdout.indexOf("{"));
  const output = `exit ${run.code}\n${run.stderr.slice(-4000)}`;
  try {
    return { result: JSON.parse(json) as DemoResult, output };
  } catch {
    throw new Error(`the demo printed no JSON:\n${run.stdout.slice(-2000)}\n${output}`);
  }
}

/**
 * The main job where a real deployment meets the network (issue "Real chains and real
 * networks"): through a strict RPC (log ranges ≤ 2,000 blocks, lookbacks ≤ 2,880, a rate limit,
 * 503s and dropped connections, latency) in front of a node mining every 500 ms, and over WAN
 * links (40 ms each way, 100 Mbit/s, connections reset mid-transfer). Each run stores a file
 * repair-backed, kills a provider, waits for the repair and retrieves the file through paid
 * retrieval: the provider, repair miner and retrieval paths all run through the proxies.
 */
describe("the main job over a strict RPC, across WAN links", function () {
  this.timeout(900_000);
  superviseSuiteProcesses();
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-real-network-"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("npm run demo -- --rpc <strict proxy> --wan deploys through the proxy and passes: no refused range or lookback asked for, its 429s, 503s, dropped and reset connections ridden out", async () => {
    let devnet: Devnet | undefined;
    let proxy: StrictRpcProxy | undefined;
    try {
      devnet = await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: "500", HARDHAT_AUTOMINE: "false" });
      // A paid-tier endpoint: 100 calls/s (burst 200), 2 % of calls failed (503 or a dropped
      // connection), 25 ms added to each, log ranges and lookbacks capped as Lotus caps them.
      proxy = new StrictRpcProxy({ upstreamUrl: devnet.rpcUrl, seed: 7, ratePerSecond: 100, burst: 200 });
      const { url } = await proxy.start();
      const { result, output } = await demo(["--rpc", url, "--deployment", join(dir, "deployments"), "--wan"], 600_000);
      expect(result.ok, `${JSON.stringify(result.error ?? result.summary)}\n${output}`).to.equal(true);
      expect(result.summary?.chain).to.equal("--rpc");
      expect(result.summary?.unexpectedLosses).to.equal(0);
      expect(result.summary?.minerLockedForEndedDeals).to.equal("0");
      // No --code: a 4 MiB 4 + 2 file takes the default, Clay with d = n − 1.
      expect(result.summary?.coding).to.equal("Clay (d = 5)");
      const stats = proxy.stats();
      // The agents never asked for what a strict endpoint refuses…
      expect(stats.refused).to.deep.equal({ range: 0, lookback: 0 });
      // …and rode out what it did to them.
      expect(stats.unavailable + stats.dropped, JSON.stringify(stats)).to.be.greaterThan(0);
      expect(stats.forwarded).to.be.greaterThan(1_000);
      const links = Object.values(result.summary?.wan ?? {});
      // One WAN proxy per provider (7), the miner and the chain (in front of the strict proxy).
      expect(links.length).to.equal(9);
      const carried = links.reduce((sum, l) => sum + l.bytesToTarget + l.bytesFromTarget, 0);
      // The file (4 MiB, 6 MiB encoded) went up, was repaired and came back through the links.
      expect(carried).to.be.greaterThan(12 * 1024 * 1024);
      expect(links.every((l) => l.connections > 0)).to.equal(true);
    } finally {
      await proxy?.stop();
      await devnet?.stop();
    }
  });
});
