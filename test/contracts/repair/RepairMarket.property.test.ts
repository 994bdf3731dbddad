import { expect } from "chai";
import { ethers } from "hardhat";
import { mine, takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { ContractTransactionResponse } from "ethers";
import { TEST_PARAMS, type PublishedDeal, deployMarket, publishDeals } from "../helpers/market";
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
import { PROPERTY_RUNS, PROPERTY_TIMEOUT_MS, progress } from "../helpers/property-runs";

const RUNS = PROPERTY_RUNS;
const FILES = 3;
const PROVIDERS = 5;
const PIECE = 256n;

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
  | { kind: "advance"; epochs: number };

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
  ],
  report: ["DealNotOpen", "PieceNotAssigned", "PieceAlreadyLost", "StorageDealHealthy"],
  reassign: [
    "DealNotOpen",
    "PieceNotLost",
    "StorageDealAlreadyUsed",
    "ProviderAlreadyHoldsPiece",
    "StorageDealNotLive",
  ],
  repair: [
    "DealNotOpen",
    "PieceNotAssigned",
    "PieceAlreadyLost",
    "StorageDealHealthy",
    "PieceNotLost",
    "StorageDealAlreadyUsed",
    "StorageDealNotLive",
  ],
  slash: ["DealNotOpen", "NothingToSlash"],
  claim: [],
  withdraw: ["ZeroAmount"],
  advance: [],
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
        2n * 3n * PIECE * 1000n + 1n,
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
    // Every piece of every file, stored once with every provider, the worker as client.
    const files: TestFile[] = Array.from({ length: FILES }, () => makeFile(2, 1, PIECE));
    const storage = new Map<string, PublishedDeal>();
    for (const [p, provider] of providers.entries()) {
      const pieces = files.flatMap((file) => file.pieces);
      const deals = await publishDeals(f, pieces, {
        client: worker,
        provider,
        fields: {
          startEpoch: BigInt(await ethers.provider.getBlockNumber()) + 130n,
          endEpoch: BigInt(await ethers.provider.getBlockNumber()) + 50_000n,
          storagePricePerEpoch: 0n,
        },
      });
      deals.forEach((d, i) => storage.set(`${Math.floor(i / 3)}:${i % 3}:${p}`, d));
    }
    // Start the sequences a little before the storage deals' first unproven period ends.
    await mine(40);
    const snapshot = await takeSnapshot();
    const watched = [f.client.address, owner.address, worker.address, f.reporter.address];
    let placed = 0;
    let repaired = 0;
    let claimed = 0;
    const tick = progress("RepairMarket");

    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 4, maxLength: 14, size: "max" }), async (rest) => {
        tick();
        await snapshot.restore();
        // Every sequence starts from a taken bid, so placement and repair are reachable.
        const actions: Action[] = [{ kind: "bid", file: 0, duration: 300 }, { kind: "deal", pick: 0 }, ...rest];
        const bids: { id: bigint; file: number }[] = [];
        const deals: { id: bigint; file: number }[] = [];
        for (const action of actions) {
          const run = async (send: () => Promise<ContractTransactionResponse>) => {
            try {
              return await (await send()).wait();
            } catch (err) {
              const data = (err as { data?: string }).data;
              const parsed = data ? repair.interface.parseError(data) : null;
              if (!parsed || !ALLOWED[action.kind].includes(parsed.name)) throw err;
              return null;
            }
          };
          const deal = "pick" in action && deals.length > 0 ? deals[action.pick % deals.length] : undefined;
          switch (action.kind) {
            case "bid": {
              const file = files[action.file];
              const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
              const receipt = await run(() =>
                repair.connect(f.client).addBid(file.droot.root, 1n, 3n * PIECE, BigInt(action.duration), expiry, {
                  k: 2,
                  m: 1,
                  pieceSize: PIECE,
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
              const s = storage.get(`${deal.file}:${action.index}:${action.provider}`);
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
              if (deal) await run(() => repair.connect(f.reporter).reportPieceLoss(deal.id, action.index));
              break;
            case "repair": {
              // Report the piece lost (when its storage deal has faulted), then move it to a
              // provider holding no piece of the file.
              if (!deal) break;
              await run(() => repair.connect(f.reporter).reportPieceLoss(deal.id, action.index));
              const holders = new Set<string>();
              for (let i = 0; i < 3; i++) holders.add((await repair.pieceSlot(deal.id, i)).provider);
              const target = providers.findIndex((p) => !holders.has(p.address));
              const s = storage.get(`${deal.file}:${action.index}:${target}`);
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
          for (const onChain of await expectRepairFundsConserved(f, watched)) {
            if (onChain.state === 1n || onChain.state === 2n) power += onChain.size;
            expect(onChain.claimed).to.be.at.most(onChain.amount);
            expect(onChain.paidEpochs).to.be.at.most(onChain.accruedUpTo - onChain.startEpoch);
            expect(onChain.lost).to.be.at.most(onChain.state === 4n ? 3n : 1n);
          }
          expect((await repair.getMiner(1n)).powerBytes).to.equal(power);
        }
      }),
      { numRuns: RUNS },
    );
    console.log(`      ${placed} pieces placed, ${repaired} repaired, ${claimed} claims`);
    expect(placed).to.be.greaterThan(RUNS / 2);
    expect(repaired).to.be.greaterThan(RUNS / 50);
  });
});
