import { expect } from "chai";
import { gunzipSync, gzipSync } from "node:zlib";
import { privateKeyToAccount } from "viem/accounts";
import { advertiseHoldings, verifyHoldings, type HoldingsLog } from "../../../actors-ts/protocol/holdings";

const provider = privateKeyToAccount(`0x${"33".repeat(32)}`);
const stranger = privateKeyToAccount(`0x${"44".repeat(32)}`);
const log: HoldingsLog = {
  holdingsSnapshot: () => ({ seq: 5, pieceCids: ["bafk-a", "bafk-b"] }),
  holdingsChanges: () => undefined,
};

describe("protocol/holdings: a tampered or foreign advertisement is refused", () => {
  it("accepts the provider's own advertisement", async () => {
    const payload = await verifyHoldings(await advertiseHoldings(log, provider, 31337), provider.address);
    expect(payload.added).to.deep.equal(["bafk-a", "bafk-b"]);
  });

  it("refuses a payload changed after signing (a piece added), one signed by another key, and garbage", async () => {
    const signed = await advertiseHoldings(log, provider, 31337);
    const json = JSON.parse(gunzipSync(Buffer.from(signed.payload, "base64")).toString("utf8")) as { added: string[] };
    json.added.push("bafk-never-held");
    const tampered = { ...signed, payload: gzipSync(JSON.stringify(json)).toString("base64") };
    await expectRefused(verifyHoldings(tampered, provider.address), /not signed by the provider/);
    // A stranger's own valid advertisement, presented as the provider's.
    const foreign = await advertiseHoldings(log, stranger, 31337);
    await expectRefused(verifyHoldings(foreign, provider.address), /not signed by the provider/);
    // The provider's signature over a payload naming someone else.
    await expectRefused(verifyHoldings(signed, stranger.address), /not signed by the provider/);
    await expectRefused(
      verifyHoldings({ ...signed, payload: "bm90IGd6aXA=" }, provider.address),
      /not valid gzip JSON/,
    );
    await expectRefused(verifyHoldings({ ...signed, signature: "0x1234" }, provider.address), /signature is malformed/);
  });
});

async function expectRefused(p: Promise<unknown>, message: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, "expected a HoldingsInvalidError").to.be.instanceOf(Error);
  expect((err as Error).name).to.equal("HoldingsInvalidError");
  expect((err as Error).message).to.match(message);
}
