import { expect } from "chai";
import type { Address } from "viem";
import type { RegisteredProvider } from "../../../actors-ts/chain/registry/reads";
import {
  byRepairPriority,
  holdersOf,
  orphanRequestOrder,
  sourceOrder,
  weightedOrder,
} from "../../../actors-ts/repair/source-order";

function provider(n: number, collateralPerByte = 1n): RegisteredProvider {
  return {
    address: `0x${n.toString(16).padStart(40, "0")}` as Address,
    endpoint: `http://127.0.0.1:${9000 + n}`,
    registeredAt: 1n,
    storageAsk: { pricePerBytePerEpoch: 1n, minPieceSize: 128n, maxPieceSize: 1n << 30n, collateralPerByte },
    retrievalAsk: { pricePerByte: 1n, paymentIntervalBytes: 1n << 20n, paymentIntervalIncreaseBytes: 1n << 20n },
  };
}

/** A deterministic stand-in for Math.random (a linear congruential generator). */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe("repair source order and priority (pure rules)", () => {
  it("runs the riskiest repair first: fewest healthy pieces, then the deal that ends soonest", () => {
    const jobs = [
      { id: "a", healthyPieces: 5, endEpoch: 100n },
      { id: "b", healthyPieces: 4, endEpoch: 900n },
      { id: "c", healthyPieces: 4, endEpoch: 300n },
      { id: "d", healthyPieces: 5, endEpoch: 50n },
    ];
    expect(byRepairPriority(jobs).map((j) => j.id)).to.deep.equal(["c", "b", "d", "a"]);
    expect(
      jobs.map((j) => j.id),
      "the input is not reordered",
    ).to.deep.equal(["a", "b", "c", "d"]);
  });

  it("asks advertisers of a piece (the on-chain holder first), else the on-chain holder, never an unregistered one", () => {
    const [p1, p2, p3, p4] = [1, 2, 3, 4].map((n) => provider(n));
    const ads: Record<string, string[]> = {
      cidA: [p2.address, p1.address.toUpperCase().replace("0X", "0x")],
      cidB: [],
      cidC: ["0x00000000000000000000000000000000000000ff"],
    };
    const holders = holdersOf(
      [
        { index: 0, pieceCid: "cidA", provider: p1.address },
        { index: 1, pieceCid: "cidB", provider: p3.address },
        { index: 2, pieceCid: "cidC", provider: p4.address },
        { index: 3, pieceCid: "cidB" },
      ],
      (cid) => ads[cid] ?? [],
      [p1, p2, p3, p4],
    );
    expect(holders.get(0)?.map((p) => p.address)).to.deep.equal([p1.address, p2.address]);
    expect(holders.get(1)?.map((p) => p.address)).to.deep.equal([p3.address]);
    // Advertised only by an unregistered address, and nobody else is asked: no holder.
    expect(holders.has(2)).to.equal(false);
    expect(holders.has(3)).to.equal(false);
  });

  it("tries advertised pieces first, then better-reputed holders, then a collateral-weighted draw", () => {
    const [p1, p2, p3, p4, p5] = [1, 2, 3, 4, 5].map((n) => provider(n));
    const holders = new Map([
      [0, [p1]],
      [1, [p2]],
      [2, [p3]],
      [3, [p4]],
      [4, [p5]],
    ]);
    const advertised = new Set([3, 4]);
    const reputation = { [p5.address]: 0.9, [p4.address.toLowerCase()]: 0.2, [p2.address]: 0.99 };
    for (let seed = 1; seed < 50; seed++) {
      const order = sourceOrder([0, 1, 2, 3, 4], holders, (i) => advertised.has(i), reputation, seeded(seed));
      // Advertised first, best reputation first among them; then unadvertised, reputed first.
      expect(order.slice(0, 3)).to.deep.equal([4, 3, 1]);
      expect(order.slice(3).sort()).to.deep.equal([0, 2]);
    }
  });

  it("prefers well-collateralised holders without ever excluding small ones (floor of a tenth)", () => {
    const rich = provider(1, 1000n);
    const poor = provider(2, 1n);
    const holders = new Map([
      [0, [rich]],
      [1, [poor]],
    ]);
    const random = seeded(7);
    let poorFirst = 0;
    const runs = 2000;
    for (let i = 0; i < runs; i++) if (weightedOrder([0, 1], holders, random)[0] === 1) poorFirst++;
    // Weights 1000 and 100 (the floor): the poor holder comes first about 1 time in 11.
    expect(poorFirst / runs).to.be.within(0.05, 0.14);
    // Every draw returns each index exactly once.
    const all = weightedOrder([3, 1, 2, 0], new Map(), random);
    expect([...all].sort()).to.deep.equal([0, 1, 2, 3]);
  });

  it("asks for an orphan's manifest from its holders first, then others by collateral with a floor, each once", () => {
    const holders = [provider(7), provider(3)];
    const big = provider(1, 1000n);
    const small = provider(2, 1n);
    const registered = [small, provider(3), big, provider(7)];
    const firstAfterHolders = new Map<string, number>();
    for (let seed = 1; seed <= 400; seed++) {
      const order = orphanRequestOrder(holders, registered, seeded(seed));
      expect(order.slice(0, 2)).to.deep.equal(holders);
      expect(order.map((p) => p.address).sort()).to.deep.equal(registered.map((p) => p.address).sort());
      const next = order[2].address;
      firstAfterHolders.set(next, (firstAfterHolders.get(next) ?? 0) + 1);
    }
    // The big provider (1000 per byte) is asked before the small one (floored to 100) most of the
    // time, about 10 : 1, but the small one still comes first sometimes.
    const bigFirst = firstAfterHolders.get(big.address) ?? 0;
    const smallFirst = firstAfterHolders.get(small.address) ?? 0;
    expect(bigFirst).to.be.greaterThan(300);
    expect(smallFirst).to.be.greaterThan(5);
  });
});
