import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { ClientStore } from "../../../actors-ts/client/client-store";

describe("client store: a provider's acceptance survives a restart", () => {
  it("keeps the acceptance per proposal hash (any case) across reopening the database", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rm-client-store-"));
    try {
      const path = join(dir, "client.sqlite");
      const hash = `0x${"ab".repeat(32)}` as Hex;
      const signature = `0x${"cd".repeat(65)}` as Hex;
      const first = new ClientStore(path);
      expect(first.acceptance(hash)).to.equal(undefined);
      first.putAcceptance(hash, signature);
      first.close();
      const reopened = new ClientStore(path);
      expect(reopened.acceptance(hash.toUpperCase().replace("0X", "0x") as Hex)).to.equal(signature);
      expect(reopened.acceptance(`0x${"ef".repeat(32)}`)).to.equal(undefined);
      reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
