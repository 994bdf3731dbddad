import { expect } from "chai";
import {
  clayDecode,
  clayEncode,
  clayParams,
  clayRepair,
  clayRepairHelpers,
  clayRepairPlanes,
  type ClayParams,
} from "../../../actors-ts/erasure/clay";
import { InvalidArgumentError } from "../../../actors-ts/core/errors";
import { referenceParity } from "../../helpers/gf256-reference";

/** mulberry32: a small seeded generator, so every run sees the same data and patterns. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomShares(params: ClayParams, subChunkSize: number, seed: number): Uint8Array[] {
  const random = seeded(seed);
  return Array.from({ length: params.k }, () =>
    Uint8Array.from({ length: params.alpha * subChunkSize }, () => Math.floor(random() * 256)),
  );
}

function stripe(params: ClayParams, subChunkSize: number, seed: number): Uint8Array[] {
  const data = randomShares(params, subChunkSize, seed);
  return [...data, ...clayEncode(params, data, subChunkSize)];
}

function combinations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...combinations(n - 1, k - 1).map((c) => [...c, n - 1]), ...combinations(n - 1, k)];
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** The repair message of a helper: the sub-chunks `planes` of its share, concatenated. */
function pick(share: Uint8Array, planes: number[], subChunkSize: number): Uint8Array {
  const out = new Uint8Array(planes.length * subChunkSize);
  planes.forEach((z, i) => out.set(share.subarray(z * subChunkSize, (z + 1) * subChunkSize), i * subChunkSize));
  return out;
}

function repairFrom(
  params: ClayParams,
  shares: Uint8Array[],
  lost: number,
  helpers: number[],
  size: number,
): Uint8Array {
  const planes = clayRepairPlanes(params, lost);
  return clayRepair(params, lost, new Map(helpers.map((i) => [i, pick(shares[i], planes, size)])), size);
}

function xtime(b: number): number {
  return ((b << 1) ^ (b & 0x80 ? 0x11d : 0)) & 0xff;
}

/**
 * The code's definition, checked slowly and independently of the layered decoder: uncouple
 * every plane (U = C + 2·C* for paired vertices, U = C for unpaired ones; nodes y·q + x, digits
 * most significant first, nu zero nodes after the data, as in the `clay-codes` crate) and check
 * that the uncoupled parity is the Backblaze/klauspost Reed–Solomon parity of the uncoupled data.
 */
function checkDefinition(params: ClayParams, shares: Uint8Array[], size: number): void {
  const { k, nu, q, t, alpha, m } = params;
  const zero = new Uint8Array(alpha * size);
  const nodes = [...shares.slice(0, k), ...Array.from({ length: nu }, () => zero), ...shares.slice(k)];
  for (let z = 0; z < alpha; z++) {
    const uncoupled = nodes.map((share, node) => {
      const x = node % q;
      const y = Math.floor(node / q);
      const weight = q ** (t - 1 - y);
      const zy = Math.floor(z / weight) % q;
      const own = share.subarray(z * size, (z + 1) * size);
      if (zy === x) return own;
      const z2 = z + (x - zy) * weight;
      const other = nodes[y * q + zy].subarray(z2 * size, (z2 + 1) * size);
      return own.map((b, i) => b ^ xtime(other[i]));
    });
    const parity = referenceParity(uncoupled.slice(0, k + nu), m);
    parity.forEach((p, i) => expect(same(p, uncoupled[k + nu + i]), `plane ${z} parity ${i}`).to.equal(true));
  }
}

describe("Clay codes", () => {
  describe("clayParams", () => {
    it("derives q, t, nu, alpha and beta for 4 + 2 and 10 + 4 (d = n − 1)", () => {
      expect(clayParams(4, 2)).to.deep.equal({ k: 4, m: 2, n: 6, d: 5, q: 2, t: 3, nu: 0, alpha: 8, beta: 4 });
      expect(clayParams(10, 4)).to.deep.equal({ k: 10, m: 4, n: 14, d: 13, q: 4, t: 4, nu: 2, alpha: 256, beta: 64 });
      expect(clayParams(9, 3, 11)).to.include({ q: 3, t: 4, nu: 0, alpha: 81, beta: 27 });
      expect(clayParams(10, 4, 12)).to.include({ q: 3, t: 5, nu: 1, alpha: 243, beta: 81 });
    });

    it("downloads d·beta/alpha shares for a repair: 2.5 for 4 + 2, 3.25 for 10 + 4", () => {
      const ratio = (p: ClayParams): number => (p.d * p.beta) / p.alpha;
      expect(ratio(clayParams(4, 2))).to.equal(2.5);
      expect(ratio(clayParams(10, 4))).to.equal(3.25);
    });

    for (const [k, m, d] of [
      [0, 2, 1],
      [4, 0, 3],
      [4, 2, 3],
      [4, 2, 6],
      [4.5, 2, 5],
      [200, 100, 299],
      [40, 2, 41],
    ]) {
      it(`rejects k = ${k}, m = ${m}, d = ${d}`, () => {
        expect(() => clayParams(k, m, d)).to.throw(InvalidArgumentError);
      });
    }
  });

  for (const [k, m] of [
    [4, 2],
    [10, 4],
  ]) {
    for (const size of [127, 254]) {
      describe(`${k} + ${m}, sub-chunks of ${size} bytes`, () => {
        const params = clayParams(k, m);
        const shares = stripe(params, size, k * 1000 + size);

        it("is the coupled-layer code of its definition (every uncoupled plane an RS codeword)", () => {
          checkDefinition(params, shares, size);
        });

        it("is systematic and leaves the data shares untouched", () => {
          const data = randomShares(params, size, k * 1000 + size);
          const copy = data.map((share) => share.slice());
          clayEncode(params, data, size);
          data.forEach((share, i) => expect(same(share, copy[i])).to.equal(true));
          shares.slice(0, k).forEach((share, i) => expect(same(share, copy[i])).to.equal(true));
        });

        it("repairs every lost share byte for byte from d helpers' beta sub-chunks", () => {
          for (let lost = 0; lost < params.n; lost++) {
            const helpers = clayRepairHelpers(params, lost);
            expect(helpers).to.have.length(params.d);
            expect(clayRepairPlanes(params, lost)).to.have.length(params.beta);
            expect(same(repairFrom(params, shares, lost, helpers, size), shares[lost]), `share ${lost}`).to.equal(true);
          }
        });
      });
    }
  }

  describe("clayDecode", () => {
    it("rebuilds every pattern of one or two lost shares of 4 + 2", () => {
      const params = clayParams(4, 2);
      for (const size of [127, 254, 8]) {
        const shares = stripe(params, size, size);
        for (const lost of [...combinations(6, 1), ...combinations(6, 2)]) {
          const rebuilt = clayDecode(
            params,
            shares.map((s, i) => (lost.includes(i) ? undefined : s)),
            size,
          );
          rebuilt.forEach((s, i) => expect(same(s, shares[i]), `size ${size} lost ${lost.join(",")}`).to.equal(true));
        }
      }
    });

    it("rebuilds 50 seeded patterns of up to four lost shares of 10 + 4, and all four-loss patterns among six", () => {
      const params = clayParams(10, 4);
      const shares = stripe(params, 127, 14);
      const random = seeded(7);
      const patterns = Array.from({ length: 50 }, () => {
        const count = 1 + Math.floor(random() * 4);
        const order = Array.from({ length: 14 }, (_, i) => i).sort(() => random() - 0.5);
        return order.slice(0, count);
      });
      const subset = [0, 3, 8, 9, 10, 13]; // data, the section with the two zero nodes, parity
      patterns.push(...combinations(6, 4).map((c) => c.map((i) => subset[i])));
      for (const lost of patterns) {
        const rebuilt = clayDecode(
          params,
          shares.map((s, i) => (lost.includes(i) ? undefined : s)),
          127,
        );
        rebuilt.forEach((s, i) => expect(same(s, shares[i]), `lost ${lost.join(",")}`).to.equal(true));
      }
    });
  });

  describe("clayRepair with d < n − 1", () => {
    for (const [k, m, d] of [
      [5, 3, 6],
      [6, 3, 7],
      [10, 4, 12],
    ]) {
      it(`repairs every share of ${k} + ${m} from d = ${d} helpers, one other share not asked`, () => {
        const params = clayParams(k, m, d);
        const size = 8;
        const shares = stripe(params, size, d);
        checkDefinition(params, shares, size);
        for (let lost = 0; lost < params.n; lost++) {
          // Leave out the highest share that is not a y-section mate, so some node is aloof.
          const mates = clayRepairHelpers(params, lost).slice(0, params.q - 1);
          const others = Array.from({ length: params.n }, (_, i) => i).filter((i) => i !== lost && !mates.includes(i));
          const available = [...mates, ...others.slice(0, -1)].reverse();
          const helpers = clayRepairHelpers(params, lost, available);
          expect(same(repairFrom(params, shares, lost, helpers, size), shares[lost]), `share ${lost}`).to.equal(true);
        }
      });
    }

    it("refuses helpers that leave out a share of the lost share's y-section", () => {
      const params = clayParams(5, 3, 6); // q = 2: shares 0 and 1 share a y-section
      const shares = stripe(params, 4, 1);
      expect(() => clayRepairHelpers(params, 0, [2, 3, 4, 5, 6, 7])).to.throw(InvalidArgumentError, /y-section/);
      expect(() => repairFrom(params, shares, 0, [2, 3, 4, 5, 6, 7], 4)).to.throw(InvalidArgumentError, /y-section/);
    });
  });

  describe("input checks", () => {
    const params = clayParams(4, 2);
    const size = 16;
    const shares = stripe(params, size, 3);
    const planes = clayRepairPlanes(params, 0);
    const helpers = new Map([1, 2, 3, 4, 5].map((i) => [i, pick(shares[i], planes, size)]));

    it("names the repair planes of a share (its digit in its y-section)", () => {
      expect(clayRepairPlanes(params, 0)).to.deep.equal([0, 1, 2, 3]);
      expect(clayRepairPlanes(params, 1)).to.deep.equal([4, 5, 6, 7]);
      expect(clayRepairPlanes(params, 5)).to.deep.equal([1, 3, 5, 7]);
    });

    it("rejects wrong share counts and lengths", () => {
      expect(() => clayEncode(params, shares.slice(0, 3), size)).to.throw(InvalidArgumentError, /exactly k/);
      expect(() => clayEncode(params, [...shares.slice(0, 3), new Uint8Array(10)], size)).to.throw(
        InvalidArgumentError,
        /alpha · subChunkSize/,
      );
      expect(() => clayDecode(params, shares.slice(0, 5), size)).to.throw(InvalidArgumentError, /n share slots/);
      expect(() => clayDecode(params, [undefined, undefined, undefined, ...shares.slice(3)], size)).to.throw(
        InvalidArgumentError,
        /more than m/,
      );
    });

    it("rejects bad sub-chunk sizes and parameters that are not clayParams'", () => {
      expect(() => clayEncode(params, shares.slice(0, 4), 0)).to.throw(InvalidArgumentError, /sub-chunk size/);
      expect(() => clayEncode(params, shares.slice(0, 4), 1.5)).to.throw(InvalidArgumentError, /sub-chunk size/);
      expect(() => clayEncode({ ...params, alpha: 4 }, shares.slice(0, 4), size)).to.throw(InvalidArgumentError);
    });

    it("rejects a repair with the wrong helpers or helper sizes", () => {
      expect(() => clayRepair(params, 6, helpers, size)).to.throw(InvalidArgumentError, /out of range/);
      const four = new Map([...helpers].slice(0, 4));
      expect(() => clayRepair(params, 0, four, size)).to.throw(InvalidArgumentError, /exactly d/);
      const withLost = new Map([...four, [0, pick(shares[0], planes, size)]]);
      expect(() => clayRepair(params, 0, withLost, size)).to.throw(InvalidArgumentError, /another share/);
      const short = new Map([...four, [5, new Uint8Array(3)]]);
      expect(() => clayRepair(params, 0, short, size)).to.throw(InvalidArgumentError, /beta · subChunkSize/);
      expect(same(clayRepair(params, 0, helpers, size), shares[0])).to.equal(true);
    });
  });
});
