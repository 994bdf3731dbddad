import { expect } from "chai";
import {
  checkLogFilter,
  LOOKBACK_REFUSAL_CODE,
  RANGE_REFUSAL_CODE,
  resolveBlockTag,
} from "../../../scripts/lib/json-rpc-limits";

const limits = { maxLogRangeBlocks: 2_000, maxLookbackBlocks: 2_880 };

describe("scripts/lib/json-rpc-limits: the log-query rules of a strict endpoint", () => {
  it("resolves block tags against the head and leaves anything else to the upstream", () => {
    for (const tag of ["latest", "pending", "safe", "finalized", undefined, null]) {
      expect(resolveBlockTag(tag, 77n), String(tag)).to.equal(77n);
    }
    expect(resolveBlockTag("earliest", 77n)).to.equal(0n);
    expect(resolveBlockTag("0x10", 77n)).to.equal(16n);
    expect(resolveBlockTag("0XfF", 77n)).to.equal(undefined, "0X is not a quantity");
    for (const bad of ["16", "0x", "head", 16, { blockNumber: "0x1" }]) {
      expect(resolveBlockTag(bad, 77n), JSON.stringify(bad)).to.equal(undefined);
    }
  });

  it("counts both ends of a range: 2,000 blocks pass, 2,001 are refused", () => {
    expect(checkLogFilter({ fromBlock: "0x1", toBlock: "0x7d0" }, 2_000n, limits)).to.equal(undefined);
    const refusal = checkLogFilter({ fromBlock: "0x0", toBlock: "0x7d0" }, 2_000n, limits);
    expect(refusal).to.deep.equal({
      kind: "range",
      code: RANGE_REFUSAL_CODE,
      message: "query exceeds max block range 2000",
      data: { fromBlock: "0x0", toBlock: "0x7d0", head: "0x7d0", limit: 2_000 },
    });
  });

  it("refuses a fromBlock more than 2,880 blocks behind the head", () => {
    expect(checkLogFilter({ fromBlock: "0x78", toBlock: "0x80" }, 3_000n, limits)).to.equal(undefined); // 120 = 3000 − 2880
    expect(checkLogFilter({ fromBlock: "0x77", toBlock: "0x80" }, 3_000n, limits)?.code).to.equal(
      LOOKBACK_REFUSAL_CODE,
    );
    expect(checkLogFilter({ fromBlock: "earliest", toBlock: "0x10" }, 2_880n, limits)).to.equal(undefined);
  });

  it("passes what it cannot judge: a blockHash, a reversed range, a malformed filter", () => {
    const blockHash = `0x${"11".repeat(32)}`;
    expect(checkLogFilter({ blockHash, fromBlock: "0x0" }, 10_000n, limits)).to.equal(undefined);
    expect(checkLogFilter({ fromBlock: "0x2710", toBlock: "0x0" }, 10_000n, limits)).to.equal(undefined);
    for (const bad of [undefined, null, "0x1", [], { fromBlock: 5 }]) {
      expect(checkLogFilter(bad, 10_000n, limits), JSON.stringify(bad)).to.equal(undefined);
    }
  });
});
