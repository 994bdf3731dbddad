import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { encodeStripe, reconstructStripe, checkCodingParams } from "../../../actors-ts/erasure/reed-solomon";
import { referenceParity } from "../../helpers/gf256-reference";

function combinations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...combinations(n - 1, k - 1).map((c) => [...c, n - 1]), ...combinations(n - 1, k)];
}

describe("Reed–Solomon (klauspost layout)", () => {
  it("reproduces klauspost/reedsolomon's TestOneEncode vector (5 + 5)", () => {
    const stripe = new Uint8Array([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    encodeStripe(stripe, 5, 5);
    expect(Array.from(stripe.subarray(10))).to.deep.equal([12, 13, 10, 11, 14, 15, 90, 91, 94, 95]);
  });

  for (const [k, m] of [
    [1, 1],
    [2, 1],
    [4, 2],
    [10, 4],
    [17, 3],
  ]) {
    it(`matches an independent implementation of the Backblaze/klauspost matrix for ${k} + ${m}`, () => {
      const shareSize = 97;
      const data = Array.from({ length: k }, () => randomBytes(shareSize));
      const stripe = new Uint8Array((k + m) * shareSize);
      data.forEach((d, i) => stripe.set(d, i * shareSize));
      encodeStripe(stripe, k, m);
      const expected = referenceParity(data, m);
      for (let i = 0; i < m; i++) {
        expect(
          Buffer.from(stripe.subarray((k + i) * shareSize, (k + i + 1) * shareSize)).equals(Buffer.from(expected[i])),
        ).to.equal(true, `parity ${i}`);
      }
    });
  }

  for (const [k, m] of [
    [2, 1],
    [3, 2],
    [4, 2],
    [4, 3],
  ]) {
    it(`rebuilds every share from every combination of ${k} of ${k + m} shares`, () => {
      const shareSize = 64;
      const stripe = new Uint8Array((k + m) * shareSize);
      stripe.set(randomBytes(k * shareSize));
      encodeStripe(stripe, k, m);
      for (const keep of combinations(k + m, k)) {
        const damaged = stripe.slice();
        const present = Array.from({ length: k + m }, (_, i) => keep.includes(i));
        present.forEach((p, i) => {
          if (!p) damaged.fill(0xee, i * shareSize, (i + 1) * shareSize);
        });
        reconstructStripe(damaged, k, m, present);
        expect(Buffer.from(damaged).equals(Buffer.from(stripe)), `kept ${keep.join(",")}`).to.equal(true);
      }
    });
  }

  it("refuses to rebuild from fewer than k shares", () => {
    const stripe = new Uint8Array(6 * 8);
    expect(() => reconstructStripe(stripe, 4, 2, [true, true, true, false, false, false])).to.throw(/fewer than k/);
  });

  it("rejects impossible coding parameters", () => {
    expect(() => checkCodingParams(0, 2)).to.throw(/1 ≤ k/);
    expect(() => checkCodingParams(200, 57)).to.throw(/k \+ m ≤ 256/);
    expect(() => checkCodingParams(2, -1)).to.throw();
  });
});
