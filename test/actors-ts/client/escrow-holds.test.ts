import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toHex } from "viem";
import { silentLogger } from "../../../actors-ts/core/logger";
import { StorageClient, type SignedProposal } from "../../../actors-ts/client/storage-client";
import { addBalance } from "../../../actors-ts/chain/storage-market/add-balance";
import { escrowBalance } from "../../../actors-ts/chain/storage-market/reads";
import { tokenBalance } from "../../../actors-ts/chain/token/approve";
import { commpOfFile } from "../../../actors-ts/piece/commp";
import { startInProcessMarket, type InProcessMarket } from "./in-process-market";

const DURATION = 200n; // epochs
const PIECES = 4;

/**
 * Proposals prepared side by side hold their escrow (decision 47). A repair miner prepares up to
 * eight placements at once; each used to check the free escrow alone, so when it already covered
 * one proposal none topped up, and all but the first were skipped at publication with
 * `ClientBalanceTooLow` — and the miner blamed, then dropped, the providers.
 */
describe("StorageClient escrow holds: proposals prepared side by side are all covered", function () {
  this.timeout(240_000);
  let market: InProcessMarket;

  before(async () => {
    market = await startInProcessMarket(PIECES);
  });
  after(async () => {
    await market.close();
  });

  it("publishes every one of four proposals prepared at once when the free escrow covered only one; funds conserved", async () => {
    const { clients, contracts, store } = market;
    const storage = new StorageClient({ clients, contracts, store, logger: silentLogger });
    const files = await Promise.all(
      Array.from({ length: PIECES }, async (_, i) => {
        const path = join(market.dir, `escrow-${i}.bin`);
        await writeFile(path, randomBytes(3000 + i));
        return { path, commp: await commpOfFile(path) };
      }),
    );
    const lockOf = (i: number) => BigInt(files[i].commp.payloadSize) * DURATION; // the default ask: 1 per byte-epoch
    const me = clients.account.address;
    const before = await escrowBalance(clients, contracts, me);
    // The free escrow covers exactly the first proposal (plus what it held already).
    await addBalance(clients, contracts, me, lockOf(0));
    const tokensBefore = await tokenBalance(clients, contracts.token, me);
    const escrowAfterDeposit = await escrowBalance(clients, contracts, me);

    const signed: SignedProposal[] = await Promise.all(
      files.map((f, i) =>
        storage.prepareProposal(
          { root: toHex(f.commp.root), paddedSize: f.commp.paddedSize, pieceCid: f.commp.pieceCid },
          market.providers[i],
          { durationEpochs: DURATION },
        ),
      ),
    );
    expect(storage.escrow.total).to.equal(files.reduce((sum, _, i) => sum + lockOf(i), 0n));
    const published = await Promise.all(signed.map((s, i) => storage.completeProposal(s, files[i].path)));
    expect(published.map((p) => p.dealId > 0n)).to.deep.equal([true, true, true, true]);
    expect(storage.escrow.total).to.equal(0n); // every hold released

    // Conservation: the tokens that left the account are exactly the escrow's growth; what the
    // four deals lock is exactly their price; nothing beyond the shortfall was deposited.
    const after = await escrowBalance(clients, contracts, me);
    const tokensAfter = await tokenBalance(clients, contracts.token, me);
    const locks = files.reduce((sum, _, i) => sum + lockOf(i), 0n);
    expect(after.locked - escrowAfterDeposit.locked).to.equal(locks);
    expect(tokensBefore - tokensAfter).to.equal(
      after.free + after.locked - (escrowAfterDeposit.free + escrowAfterDeposit.locked),
    );
    expect(after.free).to.equal(before.free);
  });
});
