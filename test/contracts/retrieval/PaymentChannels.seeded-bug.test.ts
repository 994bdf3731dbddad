import { expect } from "chai";
import fc from "fast-check";
import { deployChannels } from "../helpers/channels";
import { channelsProperty } from "../helpers/channels-property";
import { DEFAULT_PROPERTY_RUNS } from "../helpers/property-runs";
import type { SkimmingTokenMock } from "../../../typechain-types";

// The property tests run fewer sequences by default than they used to; this shows the default
// is still enough. A token that pays one base unit too much on some transfers out of
// PaymentChannels is a conservation bug on a path only some sequences reach (a withdrawal of an
// amount that is 2 mod 3); the unchanged property must find it within the default run count.

describe("PaymentChannels property test, against a planted conservation bug", function () {
  this.timeout(10 * 60 * 1000);

  it(`finds a token that overpays out of the contract within ${DEFAULT_PROPERTY_RUNS} sequences`, async () => {
    const f = await deployChannels("SkimmingTokenMock");
    await (f.token as unknown as SkimmingTokenMock).setSkimmed(await f.channels.getAddress());
    const stats = { redeemed: 0, collected: 0 };
    const result = await fc.check(await channelsProperty(f, stats), {
      numRuns: DEFAULT_PROPERTY_RUNS,
      endOnFailure: true,
    });
    expect(result.failed, `no failure in ${result.numRuns} sequences (seed ${result.seed})`).to.equal(true);
    const message = String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance);
    expect(message).to.match(/PaymentChannels holds \d+ but channels hold \d+|ERC20InsufficientBalance|expected/);
    console.log(
      `      ${message.split("\n")[0]}: found at sequence ${result.numRuns} of ${DEFAULT_PROPERTY_RUNS} (seed ${result.seed})`,
    );
  });
});
