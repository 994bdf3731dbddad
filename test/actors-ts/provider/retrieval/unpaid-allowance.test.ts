import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../../../actors-ts/core/database";
import { PROVIDER_MIGRATIONS } from "../../../../actors-ts/provider/provider-schema";
import { fundedBytes, grantBytes, paidBytes } from "../../../../actors-ts/provider/retrieval/unpaid-allowance";

describe("grantBytes", () => {
  const fresh = { sentBytes: 0, paidBytes: 0 };
  const base = {
    fromBytes: 0,
    wantedBytes: 100,
    lane: fresh,
    otherUnpaidBytes: 0,
    maxUnpaidBytes: 100,
    fundedBytes: 1e9,
  };

  it("gives a client that owes nothing its interval on credit", () => {
    expect(grantBytes(base)).to.deep.equal({ granted: true, bytes: 100, sentBytes: 100, unpaidBytes: 100 });
  });

  it("cuts the interval to the room the client's other lanes leave, and refuses when none is left", () => {
    expect(grantBytes({ ...base, otherUnpaidBytes: 60 })).to.include({ granted: true, bytes: 40, unpaidBytes: 40 });
    expect(grantBytes({ ...base, otherUnpaidBytes: 100 })).to.deep.equal({
      granted: false,
      reason: "UnpaidLimitReached",
    });
  });

  it("serves what a voucher paid in advance whatever the other lanes owe", () => {
    const prepaid = { ...base, otherUnpaidBytes: 100, lane: { sentBytes: 0, paidBytes: 70 } };
    expect(grantBytes(prepaid)).to.deep.equal({ granted: true, bytes: 70, sentBytes: 70, unpaidBytes: 0 });
  });

  it("sends again bytes the lane already had, and nothing new, when no room is left", () => {
    const resent = { ...base, fromBytes: 50, otherUnpaidBytes: 100, lane: { sentBytes: 120, paidBytes: 50 } };
    expect(grantBytes(resent)).to.deep.equal({ granted: true, bytes: 70, sentBytes: 120, unpaidBytes: 70 });
  });

  it("counts a lane's surplus as no one else's room and refuses what the channel's funds cannot cover", () => {
    const ahead = { ...base, lane: { sentBytes: 100, paidBytes: 400 } };
    expect(grantBytes({ ...ahead, fromBytes: 100 })).to.include({ bytes: 100, unpaidBytes: 0 });
    expect(grantBytes({ ...base, fundedBytes: 30 })).to.include({ bytes: 30 });
    expect(grantBytes({ ...base, fundedBytes: 0 })).to.deep.equal({ granted: false, reason: "UnpaidExceedsFunds" });
  });

  it("prices paid and funded bytes by the lane's price, a free lane always paid", () => {
    expect(paidBytes(7n, 2n, 100)).to.equal(3);
    expect(paidBytes(10n ** 30n, 2n, 100)).to.equal(100);
    expect(paidBytes(0n, 0n, 100)).to.equal(100);
    expect(fundedBytes(-5n, 2n)).to.equal(0);
    expect(fundedBytes(9n, 2n)).to.equal(4);
    expect(fundedBytes(0n, 0n)).to.equal(Number.MAX_SAFE_INTEGER);
  });
});

describe("the unpaid_bytes migration", () => {
  it("gives lanes served before it the bytes their vouchers do not pay for", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rm-unpaid-migration-"));
    const path = join(dir, "provider.sqlite");
    // The schema as it stood just before the unpaid_bytes migration (later ones come after it).
    const unpaid = PROVIDER_MIGRATIONS.findIndex((m) => m.includes("ADD COLUMN unpaid_bytes"));
    expect(unpaid).to.be.greaterThan(0);
    const old = openDatabase(path, PROVIDER_MIGRATIONS.slice(0, unpaid));
    const insert = old.prepare(
      `INSERT INTO retrievals (id, client, root, piece_cid, start_offset, end_offset, channel_id, lane, price_per_byte,
         interval_bytes, interval_increase, max_unpaid, bytes_sent, created_at)
       VALUES (?, '0xC1', '0x00', 'p', ?, 5000, '7', ?, '2', 1000, 0, 1000, ?, 0)`,
    );
    insert.run("paid-some", 0, 0, 3000);
    insert.run("paid-all", 1000, 1, 2000);
    insert.run("never-served", 2000, 2, 0);
    old
      .prepare(
        `INSERT INTO vouchers (channel_id, lane, nonce, amount, voucher_json, signature) VALUES ('7', ?, '1', ?, '{}', '0x')`,
      )
      .run(0, "4000");
    old
      .prepare(
        `INSERT INTO vouchers (channel_id, lane, nonce, amount, voucher_json, signature) VALUES ('7', ?, '1', ?, '{}', '0x')`,
      )
      .run(1, "2000");
    old.close();
    const db = openDatabase(path, PROVIDER_MIGRATIONS);
    try {
      const rows = db.prepare("SELECT id, unpaid_bytes FROM retrievals ORDER BY id").all();
      expect(rows).to.deep.equal([
        { id: "never-served", unpaid_bytes: 0 },
        { id: "paid-all", unpaid_bytes: 0 },
        { id: "paid-some", unpaid_bytes: 1000 },
      ]);
    } finally {
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
