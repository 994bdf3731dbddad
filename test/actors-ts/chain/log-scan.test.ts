import { expect } from "chai";
import { network } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { createPublicClient, custom, defineChain } from "viem";
import {
  clampWindow,
  nextCursorRange,
  scanNewestFirst,
  type BlockWindow,
  type LogLimits,
} from "../../../actors-ts/chain/log-scan";
import { ScanCheckpoints } from "../../../actors-ts/chain/scan-checkpoints";

const LIMITS: LogLimits = { rangeBlocks: 100n, lookbackBlocks: 1_000n };
const chain = defineChain({
  id: 31337,
  name: "hardhat-in-process",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: ["http://127.0.0.1:8545"] } },
});

describe("chain/log-scan: bounded ranges, a bounded lookback, cursors and reorganisations", () => {
  describe("clampWindow and nextCursorRange", () => {
    it("cuts a window to [head − lookback, head]", () => {
      expect(clampWindow({ fromBlock: 0n, toBlock: 9_999n }, 5_000n, LIMITS)).to.deep.equal({
        fromBlock: 4_000n,
        toBlock: 5_000n,
      });
      expect(clampWindow({ fromBlock: 4_500n, toBlock: 4_600n }, 5_000n, LIMITS)).to.deep.equal({
        fromBlock: 4_500n,
        toBlock: 4_600n,
      });
      expect(clampWindow({ fromBlock: 0n, toBlock: 10n }, 500n, LIMITS)).to.deep.equal({ fromBlock: 0n, toBlock: 10n });
    });

    it("reads on from the cursor in ranges of rangeBlocks up to the safe block, and stops there", () => {
      expect(nextCursorRange(4_499n, 4_990n, 5_000n, LIMITS)).to.deep.equal({
        fromBlock: 4_500n,
        toBlock: 4_599n,
        skippedBlocks: 0n,
      });
      expect(nextCursorRange(4_949n, 4_990n, 5_000n, LIMITS)).to.deep.equal({
        fromBlock: 4_950n,
        toBlock: 4_990n,
        skippedBlocks: 0n,
      });
      expect(nextCursorRange(4_990n, 4_990n, 5_000n, LIMITS)).to.equal(undefined);
    });

    it("a cursor older than the lookback jumps to the oldest block served and says how much it skipped", () => {
      expect(nextCursorRange(99n, 4_990n, 5_000n, LIMITS)).to.deep.equal({
        fromBlock: 4_000n,
        toBlock: 4_099n,
        skippedBlocks: 3_900n,
      });
    });
  });

  describe("scanNewestFirst", () => {
    it("asks for no range longer than rangeBlocks nor older than the lookback, newest first, and stops when told", async function () {
      const base = BigInt(await network.provider.send("eth_blockNumber", []));
      await mine(1_500);
      const head = base + 1_500n;
      const c = { public: createPublicClient({ chain, transport: custom(network.provider) }), logLimits: LIMITS };
      const asked: BlockWindow[] = [];
      const all = await scanNewestFirst(c, { fromBlock: 0n, toBlock: head }, async (r) => {
        asked.push(r);
        return [r.toBlock];
      });
      expect(asked[0]).to.deep.equal({ fromBlock: head - 99n, toBlock: head });
      expect(asked.at(-1)?.fromBlock).to.equal(head - 1_000n);
      for (const r of asked) expect(r.toBlock - r.fromBlock + 1n <= 100n).to.equal(true);
      expect(asked.length).to.equal(11); // 1,001 blocks in ranges of 100
      expect(all.length).to.equal(11);
      const stopped: BlockWindow[] = [];
      await scanNewestFirst(
        c,
        { fromBlock: 0n, toBlock: head },
        async (r) => {
          stopped.push(r);
          return stopped.length === 3 ? ["hit"] : [];
        },
        (found) => found.length > 0,
      );
      expect(stopped.length).to.equal(3);
    });
  });

  describe("ScanCheckpoints", () => {
    it("notices blocks already read being reorganised away and names the newest block still on the chain", async () => {
      const kv = new Map<string, string>();
      const store = { get: (k: string) => kv.get(k), set: (k: string, v: string) => void kv.set(k, v) };
      const c = { public: createPublicClient({ chain, transport: custom(network.provider), cacheTime: 0 }) };
      const checkpoints = new ScanCheckpoints(store, "test.checkpoints");
      await mine(5);
      const a = BigInt(await network.provider.send("eth_blockNumber", []));
      await checkpoints.record(c, a);
      const snapshot = await network.provider.send("evm_snapshot", []);
      await mine(5);
      await checkpoints.record(c, a + 3n);
      await checkpoints.record(c, a + 5n);
      expect(await checkpoints.findDivergence(c)).to.equal(undefined);
      // A reorganisation 5 blocks deep: other blocks at the same heights.
      await network.provider.send("evm_revert", [snapshot]);
      await network.provider.send("hardhat_setPrevRandao", ["0x" + "11".repeat(32)]);
      await network.provider.send("hardhat_mine", ["0x5", "0x7"]);
      const found = await checkpoints.findDivergence(c);
      expect(found?.changed.blockNumber).to.equal(a + 5n);
      expect(found?.lastGood?.blockNumber).to.equal(a);
      expect(found?.chainHash).to.not.equal(found?.changed.hash);
      // Only the blocks still on the chain are kept.
      expect(checkpoints.list().map((p) => p.blockNumber)).to.deep.equal([a]);
      expect(await checkpoints.findDivergence(c)).to.equal(undefined);
    });
  });
});
