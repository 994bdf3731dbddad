import { expect } from "chai";
import { zUint, zUint64 } from "../../../actors-ts/core/schemas";
import { openRetrievalRequestSchema, proposeDealRequestSchema } from "../../../actors-ts/protocol/provider-api";
import { repairProposalSchema } from "../../../actors-ts/protocol/repair-api";
import { signedVoucherSchema } from "../../../actors-ts/chain/payment-channels/vouchers";

const U256 = 1n << 256n;
const U64 = 1n << 64n;

describe("wire schemas bound every integer to its on-chain type", () => {
  it("zUint takes [0, 2^256) and zUint64 [0, 2^64), as decimal strings, safe numbers or bigints", () => {
    expect(zUint.parse((U256 - 1n).toString())).to.equal(U256 - 1n);
    expect(zUint.parse(7)).to.equal(7n);
    for (const bad of [U256.toString(), "-1", -1, "1.5", "0x10", ""]) {
      expect(zUint.safeParse(bad).success, `zUint ${String(bad)}`).to.equal(false);
    }
    expect(zUint64.parse((U64 - 1n).toString())).to.equal(U64 - 1n);
    expect(zUint64.safeParse(U64.toString()).success).to.equal(false);
  });

  it("a retrieval on channel 2^256, a repair proposal for bid 2^256 or a deadline of 2^64 are refused at the boundary", () => {
    const retrieval = { pieceCid: "bafk", channelId: U256.toString() };
    expect(openRetrievalRequestSchema.safeParse(retrieval).success).to.equal(false);
    expect(openRetrievalRequestSchema.safeParse({ ...retrieval, channelId: (U256 - 1n).toString() }).success).to.equal(
      true,
    );
    const proposal = { bidId: "1", askId: "1", deadline: "10", clientSignature: "0x", manifest: {} };
    expect(repairProposalSchema.safeParse(proposal).success).to.equal(true);
    expect(repairProposalSchema.safeParse({ ...proposal, bidId: U256.toString() }).success).to.equal(false);
    expect(repairProposalSchema.safeParse({ ...proposal, deadline: U64.toString() }).success).to.equal(false);
  });

  it("a storage deal proposal with a 2^64 piece size, payload size or epoch, or a voucher lane of 2^64, is refused", () => {
    const proposal = {
      pieceCid: `0x${"11".repeat(32)}`,
      pieceSize: "2048",
      payloadSize: "2000",
      client: `0x${"22".repeat(20)}`,
      provider: `0x${"33".repeat(20)}`,
      label: "x",
      startEpoch: "100",
      endEpoch: "200",
      storagePricePerEpoch: "1",
      providerCollateral: "1",
      clientCollateral: "0",
      nonce: (U256 - 1n).toString(),
    };
    const request = { proposal, clientSignature: "0x", pieceCidV2: "bafk" };
    expect(proposeDealRequestSchema.safeParse(request).success).to.equal(true);
    for (const field of ["pieceSize", "payloadSize", "startEpoch", "endEpoch"]) {
      const bad = { ...request, proposal: { ...proposal, [field]: U64.toString() } };
      expect(proposeDealRequestSchema.safeParse(bad).success, field).to.equal(false);
    }
    const voucher = {
      channelId: "1",
      lane: "0",
      nonce: "1",
      amount: "5",
      timeLockMin: "0",
      timeLockMax: "0",
      secretHash: `0x${"00".repeat(32)}`,
      minSettleEpoch: "0",
    };
    expect(signedVoucherSchema.safeParse({ voucher, signature: "0x" }).success).to.equal(true);
    expect(
      signedVoucherSchema.safeParse({ voucher: { ...voucher, lane: U64.toString() }, signature: "0x" }).success,
    ).to.equal(false);
  });
});
