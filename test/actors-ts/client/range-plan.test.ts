import { expect } from "chai";
import {
  RangeOutsideFileError,
  checkRange,
  dataSpans,
  mergeSpans,
  missingSpans,
  parseByteRange,
  shareRuns,
} from "../../../actors-ts/client/retrieval/range-plan";
import { InvalidArgumentError } from "../../../actors-ts/core/errors";

describe("range plan: where a file range lives in the pieces", () => {
  it("parses START-END and refuses anything else", () => {
    expect(parseByteRange("0-1023")).to.deep.equal({ start: 0, end: 1023 });
    expect(parseByteRange(" 7-7 ")).to.deep.equal({ start: 7, end: 7 });
    for (const bad of ["", "5", "5-", "-5", "9-3", "a-b", "1-2-3"]) {
      expect(() => parseByteRange(bad), bad).to.throw(InvalidArgumentError, /START-END/);
    }
  });

  it("refuses a range past the end in one line naming the range and the file size", () => {
    expect(() => checkRange({ start: 0, end: 99 }, 100)).to.not.throw();
    expect(() => checkRange({ start: 90, end: 100 }, 100))
      .to.throw(RangeOutsideFileError)
      .with.property("shortMessage", "range 90-100 is outside the file, which has 100 bytes (0-99)");
  });

  it("cuts a range at share boundaries, in file order, with each share's piece and offset", () => {
    // k = 3, shareSize = 10: stripe s holds file bytes [30s, 30s + 30); piece i's share at [10s, 10s + 10).
    expect(shareRuns(3, 10, { start: 25, end: 41 })).to.deep.equal([
      { fileOffset: 25, piece: 2, pieceOffset: 5, length: 5 },
      { fileOffset: 30, piece: 0, pieceOffset: 10, length: 10 },
      { fileOffset: 40, piece: 1, pieceOffset: 10, length: 2 },
    ]);
  });

  it("gives each data piece one span, none to pieces the range misses", () => {
    expect(dataSpans(3, 10, { start: 25, end: 41 })).to.deep.equal([
      { start: 10, end: 20 },
      { start: 10, end: 12 },
      { start: 5, end: 10 },
    ]);
    expect(dataSpans(3, 10, { start: 12, end: 13 })).to.deep.equal([undefined, { start: 2, end: 4 }, undefined]);
    // Across many stripes a piece's span is contiguous: a suffix, whole shares, a prefix.
    expect(dataSpans(3, 10, { start: 14, end: 75 })[1]).to.deep.equal({ start: 4, end: 26 });
  });

  it("merges and subtracts spans", () => {
    expect(
      mergeSpans([
        { start: 5, end: 9 },
        { start: 0, end: 5 },
        { start: 20, end: 30 },
        { start: 25, end: 26 },
      ]),
    ).to.deep.equal([
      { start: 0, end: 9 },
      { start: 20, end: 30 },
    ]);
    expect(
      missingSpans(
        [{ start: 0, end: 100 }],
        [
          { start: 10, end: 20 },
          { start: 50, end: 120 },
        ],
      ),
    ).to.deep.equal([
      { start: 0, end: 10 },
      { start: 20, end: 50 },
    ]);
    expect(missingSpans([{ start: 0, end: 10 }], [{ start: 0, end: 10 }])).to.deep.equal([]);
  });
});
