import { expect } from "chai";
import fc from "fast-check";
import { deployChannels } from "../helpers/channels";
import { channelsProperty } from "../helpers/channels-property";
import { PROPERTY_RUNS, PROPERTY_TIMEOUT_MS } from "../helpers/property-runs";

describe("PaymentChannels: property test over random call sequences", function () {
  this.timeout(PROPERTY_TIMEOUT_MS);

  it(`keeps every channel solvent and pays exactly the best vouchers (${PROPERTY_RUNS} sequences)`, async () => {
    const f = await deployChannels();
    const stats = { redeemed: 0, collected: 0 };
    await fc.assert(await channelsProperty(f, stats), { numRuns: PROPERTY_RUNS });
    console.log(`      ${stats.redeemed} vouchers redeemed, ${stats.collected} channels collected`);
    expect(stats.redeemed).to.be.greaterThan(PROPERTY_RUNS / 2);
    expect(stats.collected).to.be.greaterThan(PROPERTY_RUNS / 10);
  });
});
