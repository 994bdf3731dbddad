import { expect } from "chai";
import { ethers } from "hardhat";
import { mine, takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { ContractTransactionResponse } from "ethers";
import { TEST_PARAMS, type PublishedDeal, deployMarket, publishDeals } from "../helpers/market";
import { TestProver } from "../helpers/prover";
import {
  REPAIR_PARAMS,
  type RepairFixture,
  type TestFile,
  eventArgs,
  expectRepairFundsConserved,
  makeFile,
  signAuthorization,
  signWorkerConsent,
} from "../helpers/repair";
import { INITIAL_BALANCE } from "../helpers/market";
import { repairSlotLabel } from "../../../actors-ts/chain/repair-market/slot-label";
import type { Address } from "viem";
import { PROPERTY_RUNS, PROPERTY_TIMEOUT_MS, progress } from "../helpers/property-runs";

const RUNS = PROPERTY_RUNS;
const FILES = 3;
const PROVIDERS = 5;
const PIECE = 256n;
/** Payload bytes per piece: `makeFile` fills each piece's fr32 capacity; bids pay for these. */
const PIECE_PAYLOAD = (PIECE * 127n) / 128n;
/**
 * Storage deals are published before the sequences start, labelled for the slots of repair deals
 * 1..LABELLED_DEALS (`slotLabel`). A later deal gets the storage deals labelled for an earlier
 * one, which the contract must refuse (`StorageDealLabelMismatch`): the miner trying to reuse one
 * deal's storage for another.
 */
const LABELLED_DEALS = 3;

type Action =
  | { kind: "bid"; file: number; duration: number }
  | { kind: "cancel"; pick: number }
  | { kind: "deal"; pick: number }
  | { kind: "assign"; pick: number; index: number; provider: number }
  | { kind: "report"; pick: number; index: number }
  | { kind: "reassign"; pick: number; index: number; provider: number }
  | { kind: "repair"; pick: number; index: number }
  | { kind: "slash"; pick: number; index: number }
  | { kind: "claim"; pick: number }
  | { kind: "withdraw"; who: number }
  | { kind: "advance"; epochs: number }
  // An honest provider (0..PROVIDERS-2) proves its data set; the last provider never proves.
  | { kind: "prove"; provider: number }
  // A third party confirms a piece whenever it likes.
  | { kind: "confirm"; pick: number; index: number }
  // The adversarial miner reports its own pieces lost (hoping for the bounty).
  | { kind: "selfReport"; pick: number; index: number }
  // An adversarial third party tries to place or move the miner's pieces.
  | { kind: "meddle"; pick: number; index: number; provider: number }
  // The miner tries to fill a slot with a storage deal labelled for another repair deal's slot.
  | { kind: "steal"; pick: number; index: number; provider: number };

const pick = fc.nat(7);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("bid" as const),
      file: fc.nat(FILES - 1),
      duration: fc.integer({ min: 50, max: 400 }),
    }),
  },
  fc.record({ kind: fc.constant("cancel" as const), pick }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("deal" as const), pick }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("assign" as const),
      pick,
      index: fc.nat(2),
      provider: fc.nat(PROVIDERS - 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("report" as const), pick, index: fc.nat(2) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("reassign" as const),
      pick,
      index: fc.nat(2),
      provider: fc.nat(PROVIDERS - 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("repair" as const), pick, index: fc.nat(2) }) },
  fc.record({ kind: fc.constant("slash" as const), pick, index: fc.nat(2) }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("claim" as const), pick }) },
  fc.record({ kind: fc.constant("withdraw" as const), who: fc.nat(2) }),
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), epochs: fc.integer({ min: 1, max: 80 }) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("prove" as const), provider: fc.nat(PROVIDERS - 2) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("confirm" as const), pick, index: fc.nat(2) }) },
  fc.record({ kind: fc.constant("selfReport" as const), pick, index: fc.nat(2) }),
  fc.record({
    kind: fc.constant("meddle" as const),
    pick,
    index: fc.nat(2),
    provider: fc.nat(PROVIDERS - 1),
  }),
  fc.record({
    kind: fc.constant("steal" as const),
    pick,
    index: fc.nat(2),
    provider: fc.nat(PROVIDERS - 1),
  }),
);

const ALLOWED: Record<Action["kind"], string[]> = {
  bid: [],
  cancel: ["BidNotOpen"],
  deal: ["BidNotOpen", "BidExpired", "InsufficientPledge"],
  assign: [
    "DealNotOpen",
    "PieceAlreadyAssigned",
    "StorageDealAlreadyUsed",
    "ProviderAlreadyHoldsPiece",
    "StorageDealNotLive",
    "StorageDealLabelMismatch",
  ],
  report: ["DealNotOpen", "PieceNotAssigned", "PieceAlreadyLost", "StorageDealHealthy", "RepairDealEnded"],
  reassign: [
    "DealNotOpen",
    "PieceNotLost",
    "StorageDealAlreadyUsed",
    "ProviderAlreadyHoldsPiece",
    "StorageDealNotLive",
    "StorageDealLabelMismatch",
  ],
  repair: [
    "DealNotOpen",
    "PieceNotAssigned",
    "PieceAlreadyLost",
    "StorageDealHealthy",
    "PieceNotLost",
    "StorageDealAlreadyUsed",
    "StorageDealNotLive",
    "RepairDealEnded",
    "StorageDealLabelMismatch",
  ],
  slash: ["DealNotOpen", "NothingToSlash", "RepairDealEnded"],
  claim: [],
  withdraw: ["ZeroAmount"],
  advance: [],
  prove: [],
  confirm: [
    "DealNotOpen",
    "PieceNotAssigned",
    "PieceAlreadyConfirmed",
    "StorageDealNotProven",
    "RepairDealEnded",
    "StorageDealAlreadyUsed",
    "StorageDealNotLive",
    "ProviderAlreadyHoldsPiece",
    "StorageDealLabelMismatch",
  ],
  selfReport: ["DealNotOpen", "PieceNotAssigned", "PieceAlreadyLost", "StorageDealHealthy", "RepairDealEnded"],
  meddle: ["NotMinerOperator", "DealNotOpen"],
  steal: [
    "DealNotOpen",
    "PieceAlreadyAssigned",
    "PieceNotLost",
    "StorageDealAlreadyUsed",
    "ProviderAlreadyHoldsPiece",
    "StorageDealNotLive",
    "StorageDealLabelMismatch",
  ],
};

describe("RepairMarket: property test over random call sequences", function () {
  this.timeout(PROPERTY_TIMEOUT_MS);

  it(`conserves funds, power and earnings bounds for ${RUNS} random sequences`, async () => {
    // A market with longer periods so pre-published storage deals stay live for a while, then
    // fault (periods pass unproven) and finally terminate — all three states get exercised.
    const base = await deployMarket({ ...TEST_PARAMS, provingPeriodEpochs: 60n, challengeWindowEpochs: 10n });
    const signers = await ethers.getSigners();
    const [owner, worker] = [signers[6], signers[7]];
    const providers = signers.slice(8, 8 + PROVIDERS);
    const repair = await ethers.deployContract("RepairMarket", [
      await base.token.getAddress(),
      await base.market.getAddress(),
      REPAIR_PARAMS,
    ]);
    for (const s of [owner, worker, ...providers]) {
      await base.token.transfer(s.address, INITIAL_BALANCE);
      await base.token.connect(s).approve(await base.market.getAddress(), ethers.MaxUint256);
      await base.token.connect(s).approve(await repair.getAddress(), ethers.MaxUint256);
    }
    await base.token.connect(base.client).approve(await repair.getAddress(), ethers.MaxUint256);
    // Pledge for about two deals at once, so InsufficientPledge happens too.
    await repair
      .connect(owner)
      .createRepairMiner(
        worker.address,
        2n * 3n * PIECE_PAYLOAD * 1000n + 1n,
        "http://m",
        await signWorkerConsent(repair, worker, owner.address),
      );
    await repair.connect(worker).addRepairAsk(1n, 1n, 1n << 30n, 1_000_000n);
    const f: RepairFixture = {
      ...base,
      repair,
      owner,
      worker,
      providers,
      minerId: 1n,
      askId: 1n,
      accounts: [...base.accounts, owner.address, worker.address, ...providers.map((p) => p.address)],
    };
    // Every piece of every file, stored with every provider for each of the first
    // LABELLED_DEALS repair deals' slots, the worker as client.
    const files: TestFile[] = Array.from({ length: FILES }, () => makeFile(2, 1, PIECE));
    const storage = new Map<string, PublishedDeal>();
    const repairAddress = (await repair.getAddress()) as Address;
    const slots = Array.from({ length: LABELLED_DEALS }, (_, d) =>
      files.flatMap((file, fi) => file.pieces.map((piece, index) => ({ deal: d + 1, file: fi, index, piece }))),
    ).flat();
    for (const [p, provider] of providers.entries()) {
      const deals = await publishDeals(
        f,
        slots.map((slot) => slot.piece),
        {
          client: worker,
          provider,
          fields: {
            startEpoch: BigInt(await ethers.provider.getBlockNumber()) + 130n,
            endEpoch: BigInt(await ethers.provider.getBlockNumber()) + 50_000n,
            storagePricePerEpoch: 0n,
          },
          fieldsOf: (i) => ({ label: repairSlotLabel(repairAddress, BigInt(slots[i].deal), slots[i].index) }),
        },
      );
      deals.forEach((d, i) => storage.set(`${slots[i].deal}:${slots[i].file}:${slots[i].index}:${p}`, d));
    }
    /** The storage deal for this slot at provider p (labelled for an earlier deal past the first few). */
    const storageFor = (deal: { id: bigint; file: number }, index: number, p: number) =>
      storage.get(`${((Number(deal.id) - 1) % LABELLED_DEALS) + 1}:${deal.file}:${index}:${p}`);
    // Start the sequences a little before the storage deals' first unproven period ends.
    await mine(40);
    const snapshot = await takeSnapshot();
    const watched = [f.client.address, owner.address, worker.address, f.reporter.address];
    let placed = 0;
    let repaired = 0;
    let claimed = 0;
    let confirmed = 0;
    let proofs = 0;
    let mislabelled = 0;
    const tick = progress("RepairMarket");

    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 4, maxLength: 14, size: "max" }), async (rest) => {
        tick();
        await snapshot.restore();
        // Every sequence starts from a taken bid, so placement and repair are reachable.
        const actions: Action[] = [{ kind: "bid", file: 0, duration: 300 }, { kind: "deal", pick: 0 }, ...rest];
        const bids: { id: bigint; file: number }[] = [];
        const deals: { id: bigint; file: number }[] = [];
        /** Storage deals whose data set has had a proof land in this sequence. */
        const proven = new Set<bigint>();
        /** (deal, index) pairs whose loss has paid a report bounty. */
        const bountied = new Set<string>();
        for (const action of actions) {
          const run = async (send: () => Promise<ContractTransactionResponse>) => {
            try {
              return await (await send()).wait();
            } catch (err) {
              const data = (err as { data?: string }).data;
              const parsed = data ? repair.interface.parseError(data) : null;
              if (!parsed || !ALLOWED[action.kind].includes(parsed.name)) throw err;
              if (parsed.name === "StorageDealLabelMismatch") mislabelled++;
              if (process.env.DEBUG_PROP && action.kind === "confirm") console.log(parsed.name, parsed.args.toString());
              return null;
            }
          };
          /** Provider p (an honest one) proves its data set in this or the next period. */
          const proveProvider = async (p: number) => {
            const held = [...storage.entries()].filter(([key]) => key.endsWith(`:${p}`)).map(([, d]) => d);
            const setId = (await f.market.dealInfo(held[0].dealId)).dataSetId;
            let set = await f.market.dataSetInfo(setId);
            if (set.failed || set.currentPeriodProven) return;
            if (BigInt(await ethers.provider.getBlockNumber()) + 1n > set.deadlineEpoch) await mine(1);
            set = await f.market.dataSetInfo(setId);
            if (set.failed || set.currentPeriodProven) return;
            const now = BigInt(await ethers.provider.getBlockNumber());
            if (now <= set.challengeEpoch) await mine(set.challengeEpoch - now + 1n);
            await new TestProver(f.market, providers[p]).track(...held).prove(setId);
            for (const d of held) proven.add(d.dealId);
            proofs++;
          };
          /** Checks the report bounties a receipt paid: once per piece, never to the miner. */
          const checkBounties = (receipt: Awaited<ReturnType<typeof run>>) => {
            for (const log of receipt?.logs ?? []) {
              const event = repair.interface.parseLog(log);
              if (event?.name !== "LossReportBountyPaid") continue;
              const key = `${event.args.dealId}:${event.args.index}`;
              expect(bountied.has(key), `a second report bounty for piece ${key}`).to.equal(false);
              bountied.add(key);
              expect([owner.address, worker.address]).to.not.include(event.args.reporter);
            }
          };
          const deal = "pick" in action && deals.length > 0 ? deals[action.pick % deals.length] : undefined;
          switch (action.kind) {
            case "bid": {
              const file = files[action.file];
              const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
              const receipt = await run(() =>
                repair
                  .connect(f.client)
                  .addBid(file.droot.root, 1n, 3n * PIECE_PAYLOAD, BigInt(action.duration), expiry, {
                    k: 2,
                    m: 1,
                    pieceSize: PIECE,
                    scheme: 0,
                    d: 0,
                  }),
              );
              bids.push({ id: eventArgs(repair, receipt, "BidAdded").bidId as bigint, file: action.file });
              break;
            }
            case "cancel":
              if (bids.length > 0)
                await run(() => repair.connect(f.client).cancelBid(bids[action.pick % bids.length].id));
              break;
            case "deal": {
              if (bids.length === 0) break;
              const bid = bids[action.pick % bids.length];
              const deadline = BigInt(await ethers.provider.getBlockNumber()) + 10n;
              const signature = await signAuthorization(repair, f.client, {
                bidId: bid.id,
                askId: 1n,
                minerId: 1n,
                deadline,
              });
              const receipt = await run(() => repair.connect(worker).addDeal(1n, bid.id, deadline, signature));
              if (receipt)
                deals.push({ id: eventArgs(repair, receipt, "RepairDealCreated").dealId as bigint, file: bid.file });
              break;
            }
            case "assign":
            case "reassign": {
              if (!deal) break;
              const s = storageFor(deal, action.index, action.provider);
              if (!s) throw new Error("missing storage deal");
              const proof = files[deal.file].droot.proof(action.index);
              const send =
                action.kind === "assign"
                  ? () => repair.connect(worker).assignPiece(deal.id, action.index, s.dealId, s.proposal, proof)
                  : () => repair.connect(worker).reassignPiece(deal.id, action.index, s.dealId, s.proposal, proof);
              if (await run(send)) action.kind === "assign" ? placed++ : repaired++;
              break;
            }
            case "report":
              if (deal)
                checkBounties(await run(() => repair.connect(f.reporter).reportPieceLoss(deal.id, action.index)));
              break;
            case "selfReport":
              if (deal) checkBounties(await run(() => repair.connect(worker).reportPieceLoss(deal.id, action.index)));
              break;
            case "confirm": {
              // The honest miner's path: an unassigned piece goes to an honest provider holding no
              // piece of the file, the piece's provider (when honest) proves, then a third party
              // confirms.
              if (!deal) break;
              let slot = await repair.pieceSlot(deal.id, action.index);
              if (slot.storageDealId === 0n) {
                const holders = new Set<string>();
                for (let i = 0; i < 3; i++) holders.add((await repair.pieceSlot(deal.id, i)).provider);
                const target = providers.findIndex((q, i) => i < PROVIDERS - 1 && !holders.has(q.address));
                const s = storageFor(deal, action.index, target);
                const proof = files[deal.file].droot.proof(action.index);
                const assign = () =>
                  repair.connect(worker).assignPiece(deal.id, action.index, s!.dealId, s!.proposal, proof);
                if (s && (await run(assign))) placed++;
                slot = await repair.pieceSlot(deal.id, action.index);
              }
              const p = providers.findIndex((q) => q.address === slot.provider);
              if (p >= 0 && p < PROVIDERS - 1) await proveProvider(p);
              if (await run(() => repair.connect(f.reporter).confirmPiece(deal.id, action.index))) confirmed++;
              break;
            }
            case "meddle": {
              if (!deal) break;
              const s = storageFor(deal, action.index, action.provider);
              if (!s) throw new Error("missing storage deal");
              const proof = files[deal.file].droot.proof(action.index);
              const args = [deal.id, action.index, s.dealId, s.proposal, proof] as const;
              const receipt = await run(() =>
                action.provider % 2 === 0
                  ? repair.connect(f.reporter).assignPiece(...args)
                  : repair.connect(f.other).reassignPiece(...args),
              );
              expect(receipt, "a stranger placed or moved a piece").to.equal(null);
              break;
            }
            case "steal": {
              if (!deal) break;
              // Another deal's slot label: deal d takes the storage deals made for deal d + 1.
              const s = storageFor({ id: deal.id + 1n, file: deal.file }, action.index, action.provider);
              if (!s) throw new Error("missing storage deal");
              const proof = files[deal.file].droot.proof(action.index);
              const lost = (await repair.pieceSlot(deal.id, action.index)).lostAtEpoch !== 0n;
              const receipt = await run(() =>
                lost
                  ? repair.connect(worker).reassignPiece(deal.id, action.index, s.dealId, s.proposal, proof)
                  : repair.connect(worker).assignPiece(deal.id, action.index, s.dealId, s.proposal, proof),
              );
              expect(receipt, "a slot took a storage deal labelled for another deal").to.equal(null);
              break;
            }
            case "prove":
              await proveProvider(action.provider);
              break;
            case "repair": {
              // The piece's provider goes down: epochs pass (within the term) until its storage
              // deal reads Faulted. Report the piece lost, then move it to a provider holding no
              // piece of the file.
              if (!deal) break;
              const lost = await repair.pieceSlot(deal.id, action.index);
              const term = (await repair.getDeal(deal.id)).endEpoch;
              // Period ends pass unproven, a few at most, never past the term.
              for (let i = 0; lost.storageDealId !== 0n && i < 3; i++) {
                const info = await f.market.dealInfo(lost.storageDealId);
                if (info.state !== 2n) break; // not Active
                const now = BigInt(await ethers.provider.getBlockNumber());
                const deadline = (await f.market.dataSetInfo(info.dataSetId)).deadlineEpoch;
                const to = deadline + 1n < term - 2n ? deadline + 1n : term - 2n;
                if (to <= now) break;
                await mine(to - now);
              }
              checkBounties(await run(() => repair.connect(f.reporter).reportPieceLoss(deal.id, action.index)));
              const holders = new Set<string>();
              for (let i = 0; i < 3; i++) holders.add((await repair.pieceSlot(deal.id, i)).provider);
              const target = providers.findIndex((p) => !holders.has(p.address));
              const s = storageFor(deal, action.index, target);
              if (!s) break;
              const proof = files[deal.file].droot.proof(action.index);
              if (
                await run(() =>
                  repair.connect(worker).reassignPiece(deal.id, action.index, s.dealId, s.proposal, proof),
                )
              ) {
                repaired++;
              }
              break;
            }
            case "slash":
              if (deal) await run(() => repair.connect(f.reporter).slashRepairMiner(deal.id, action.index));
              break;
            case "claim":
              if (deal && (await run(() => repair.claimEarnings([deal.id])))) claimed++;
              break;
            case "withdraw": {
              const who = [f.client, owner, f.reporter][action.who];
              const balance = await repair.balanceOf(who.address);
              await run(() => repair.connect(who).withdraw(balance));
              break;
            }
            case "advance":
              await mine(action.epochs);
              break;
          }

          let power = 0n;
          const onChainDeals = await expectRepairFundsConserved(f, watched);
          for (const [i, onChain] of onChainDeals.entries()) {
            if (onChain.state === 1n || onChain.state === 2n) {
              power += onChain.size;
              // A slot never counts as placed while its storage deal is unproven, and an active
              // deal's unconfirmed slots are all lost (repairs pending).
              for (let index = 0; index < 3; index++) {
                const slot = await repair.pieceSlot(BigInt(i + 1), index);
                if (slot.confirmed) {
                  expect(proven.has(slot.storageDealId), `deal ${i + 1} piece ${index} confirmed unproven`).to.equal(
                    true,
                  );
                } else if (onChain.state === 2n) {
                  expect(slot.lostAtEpoch, `active deal ${i + 1} piece ${index} unconfirmed, not lost`).to.not.equal(
                    0n,
                  );
                }
              }
              if (onChain.state === 1n) expect(onChain.paidEpochs).to.equal(0n);
              // Past the first few deals only storage deals labelled for other deals exist:
              // none may ever be placed.
              if (i + 1 > LABELLED_DEALS) {
                for (let index = 0; index < 3; index++) {
                  const slot = await repair.pieceSlot(BigInt(i + 1), index);
                  expect(slot.storageDealId, `deal ${i + 1} took another deal's storage deal`).to.equal(0n);
                }
              }
            }
            expect(onChain.claimed).to.be.at.most(onChain.amount);
            expect(onChain.paidEpochs).to.be.at.most(onChain.accruedUpTo - onChain.startEpoch);
            expect(onChain.lost).to.be.at.most(onChain.state === 4n ? 3n : 1n);
          }
          expect((await repair.getMiner(1n)).powerBytes).to.equal(power);
        }
      }),
      { numRuns: RUNS },
    );
    console.log(
      `      ${placed} pieces placed, ${repaired} repaired, ${proofs} proofs, ${confirmed} confirmations, ${claimed} claims, ${mislabelled} mislabelled placements refused`,
    );
    expect(confirmed).to.be.greaterThan(RUNS / 10);
    expect(placed).to.be.greaterThan(RUNS / 2);
    expect(mislabelled).to.be.greaterThan(0);
    // About 0.15 repairs per sequence: a floor of one keeps a 100-sequence run from failing by
    // chance (see the StorageMarket property's floors).
    expect(repaired).to.be.greaterThan(0);
  });
});
