import { expect } from "chai";
import { ProviderHealth } from "../../../actors-ts/repair/provider-health";

describe("ProviderHealth: what the repair miner knows about providers", () => {
  const A = "0xAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa";
  const B = "0xBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBb";

  it("skips an unreachable provider until its backoff ends", () => {
    let now = 1_000;
    const health = new ProviderHealth(() => now);
    health.markUnreachable(A, 500);
    expect(health.unreachable()).to.deep.equal([A.toLowerCase()]);
    now = 1_499;
    expect(health.unreachable()).to.deep.equal([A.toLowerCase()]);
    now = 1_500;
    expect(health.unreachable()).to.deep.equal([]);
  });

  it("forgets a fault once the provider proves again or its backoff ends, and says which recovered", async () => {
    let now = 0;
    const health = new ProviderHealth(() => now);
    health.markFaulted(A, 10_000);
    health.markFaulted(B, 100);
    const proving = new Set<string>();
    const recovered: string[] = [];
    expect(
      await health.faulted(
        async (a) => proving.has(a),
        (a) => recovered.push(a),
      ),
    ).to.have.members([A.toLowerCase(), B.toLowerCase()]);
    proving.add(A.toLowerCase());
    now = 100; // B's backoff is over: forgotten without asking
    const asked: string[] = [];
    const still = await health.faulted(
      async (a) => (asked.push(a), proving.has(a)),
      (a) => recovered.push(a),
    );
    expect(still).to.deep.equal([]);
    expect(recovered).to.deep.equal([A.toLowerCase()]);
    expect(asked).to.deep.equal([A.toLowerCase()]);
    expect(await health.faulted(async () => false)).to.deep.equal([]);
  });

  it("takes fed scores case-insensitively and replaces them with each feed", () => {
    const health = new ProviderHealth();
    health.setFedScores([[A, 0.9]]);
    expect(health.fedScore(A.toLowerCase())).to.equal(0.9);
    health.setFedScores([[B, 0.2]]);
    expect(health.fedScore(A)).to.equal(undefined);
    expect(health.fedScore(B)).to.equal(0.2);
  });
});
