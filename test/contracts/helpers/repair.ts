import { ethers, network } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { buildDroot, type Droot } from "../../../actors-ts/manifest/droot";
import {
  REPAIR_DEAL_AUTHORIZATION_TYPES,
  REPAIR_MARKET_DOMAIN,
  REPAIR_MINER_CONSENT_TYPES,
} from "../../../actors-ts/chain/eip712";
import { repairSlotLabel } from "../../../actors-ts/chain/repair-market/slot-label";
import type { RepairMarket } from "../../../typechain-types";
import type { Address } from "viem";
import { TestProver } from "./prover";
import type { IRepairMarket } from "../../../typechain-types/contracts/repair/RepairMarket";
import {
  INITIAL_BALANCE,
  type MarketFixture,
  type PublishedDeal,
  type TestPiece,
  PERIOD,
  deployMarket,
  makePiece,
  publishDeals,
} from "./market";

export const REPAIR_PARAMS: IRepairMarket.RepairParamsStruct = {
  pledgePerByte: 1000n,
  placementWindowEpochs: 60n,
  repairWindowEpochs: 40n,
  lostPieceSlashBps: 1000,
  dataLossSlashBps: 5000,
  slashBountyBps: 1000,
  lossReportBountyBps: 100,
  maxDealDurationEpochs: 100_000n,
};

export const PIECE_SIZE = 1024n;
/** Payload bytes of a test piece: `makeFile` fills each piece's fr32 capacity (127/128). */
export const PIECE_PAYLOAD = (PIECE_SIZE * 127n) / 128n;
export const PRICE = 2n; // token base units per encoded byte per epoch

export interface RepairFixture extends MarketFixture {
  repair: RepairMarket;
  owner: HardhatEthersSigner;
  worker: HardhatEthersSigner;
  providers: HardhatEthersSigner[];
  minerId: bigint;
  askId: bigint;
}

/** StorageMarket + RepairMarket, one funded miner with an ask, six providers, a client. */
export async function deployRepair(params: IRepairMarket.RepairParamsStruct = REPAIR_PARAMS): Promise<RepairFixture> {
  const f = await deployMarket();
  const signers = await ethers.getSigners();
  const [owner, worker] = [signers[6], signers[7]];
  const providers = signers.slice(8, 16);
  const repair = await ethers.deployContract("RepairMarket", [
    await f.token.getAddress(),
    await f.market.getAddress(),
    params,
  ]);
  for (const s of [owner, worker, ...providers, f.client, f.other, f.reporter]) {
    if ((await f.token.balanceOf(s.address)) === 0n) await f.token.transfer(s.address, INITIAL_BALANCE);
    await f.token.connect(s).approve(await repair.getAddress(), ethers.MaxUint256);
    await f.token.connect(s).approve(await f.market.getAddress(), ethers.MaxUint256);
  }
  const pledge = ethers.parseEther("10");
  await repair
    .connect(owner)
    .createRepairMiner(
      worker.address,
      pledge,
      "http://127.0.0.1:9000",
      await signWorkerConsent(repair, worker, owner.address),
    );
  const expiry = BigInt(await ethers.provider.getBlockNumber()) + 10_000n;
  await repair.connect(worker).addRepairAsk(1n, PRICE, 1n << 30n, expiry);
  return {
    ...f,
    repair,
    owner,
    worker,
    providers,
    minerId: 1n,
    askId: 1n,
    accounts: [...f.accounts, owner.address, worker.address, ...providers.map((p) => p.address)],
  };
}

/** An erasure-coded file as the contracts see it: n random pieces and their droot. */
export interface TestFile {
  k: number;
  m: number;
  /** `CodingParams.scheme` (0 Reed–Solomon, 1 Clay) and `d` (0 for Reed–Solomon). */
  scheme: number;
  d: number;
  pieces: TestPiece[];
  droot: Droot;
}

export function makeFile(
  k = 4,
  m = 2,
  pieceSize = PIECE_SIZE,
  coding: { scheme: number; d: number } = { scheme: 0, d: 0 },
): TestFile {
  const pieces = Array.from({ length: k + m }, () => makePiece(Number((pieceSize * 127n) / 128n)));
  for (const p of pieces) if (BigInt(p.commitment.paddedSize) !== pieceSize) throw new Error("piece size mismatch");
  const droot = buildDroot(pieces.map((p) => ({ pieceCid: p.pieceCid, pieceSize })));
  return { k, m, ...coding, pieces, droot };
}

/** Arguments of the first `name` event `contract` emitted in `receipt`. */
export function eventArgs(
  contract: { interface: { parseLog(log: unknown): { name: string; args: unknown } | null } },
  receipt: { logs: readonly unknown[] } | null,
  name: string,
): Record<string, bigint | string> {
  for (const log of receipt?.logs ?? []) {
    const parsed = contract.interface.parseLog(log);
    if (parsed?.name === name) return parsed.args as Record<string, bigint | string>;
  }
  throw new Error(`no ${name} event in the receipt`);
}

/** Posts a bid for `file` from `client`; returns its id. */
export async function postBid(
  f: RepairFixture,
  file: TestFile,
  options: { client?: HardhatEthersSigner; duration?: bigint; price?: bigint } = {},
): Promise<bigint> {
  const client = options.client ?? f.client;
  // The bid pays for payload bytes, not padding (RepairOrders._checkBidSize).
  const size = BigInt(file.pieces.length) * PIECE_PAYLOAD;
  const expiry = BigInt(await ethers.provider.getBlockNumber()) + 1000n;
  const tx = await f.repair
    .connect(client)
    .addBid(file.droot.root, options.price ?? PRICE, size, options.duration ?? 2000n, expiry, {
      k: file.k,
      m: file.m,
      pieceSize: PIECE_SIZE,
      scheme: file.scheme,
      d: file.d,
    });
  return eventArgs(f.repair, await tx.wait(), "BidAdded").bidId as bigint;
}

/** The worker's EIP-712 consent to serve a miner owned by `owner` (`createRepairMiner`). */
export async function signWorkerConsent(
  repair: RepairMarket,
  worker: HardhatEthersSigner,
  owner: string,
): Promise<string> {
  return worker.signTypedData(
    {
      ...REPAIR_MARKET_DOMAIN,
      chainId: BigInt(network.config.chainId ?? 31337),
      verifyingContract: await repair.getAddress(),
    },
    { RepairMinerConsent: [...REPAIR_MINER_CONSENT_TYPES.RepairMinerConsent] },
    { owner, worker: worker.address },
  );
}

/** The client's EIP-712 consent to `minerId` taking `bidId` with `askId` until `deadline`. */
export async function signAuthorization(
  repair: RepairMarket,
  client: HardhatEthersSigner,
  fields: { bidId: bigint; askId: bigint; minerId: bigint; deadline: bigint },
  overrides: { chainId?: bigint; verifyingContract?: string } = {},
): Promise<string> {
  return client.signTypedData(
    {
      ...REPAIR_MARKET_DOMAIN,
      chainId: overrides.chainId ?? BigInt(network.config.chainId ?? 31337),
      verifyingContract: overrides.verifyingContract ?? (await repair.getAddress()),
    },
    { RepairDealAuthorization: [...REPAIR_DEAL_AUTHORIZATION_TYPES.RepairDealAuthorization] },
    fields,
  );
}

/** Bid + signed consent + addDeal; returns the repair deal id. */
export async function makeRepairDeal(f: RepairFixture, file: TestFile, duration = 2000n): Promise<bigint> {
  const bidId = await postBid(f, file, { duration });
  const deadline = BigInt(await ethers.provider.getBlockNumber()) + 100n;
  const signature = await signAuthorization(f.repair, f.client, {
    bidId,
    askId: f.askId,
    minerId: f.minerId,
    deadline,
  });
  const tx = await f.repair.connect(f.worker).addDeal(f.askId, bidId, deadline, signature);
  return eventArgs(f.repair, await tx.wait(), "RepairDealCreated").dealId as bigint;
}

/**
 * Publishes piece `index` of `file` with `provider` as a storage deal whose client is the worker,
 * labelled for slot (`dealId`, `index`) of `f.repair` (`repairSlotLabel`), unless `label` is
 * given.
 */
export async function storePiece(
  f: RepairFixture,
  dealId: bigint,
  file: TestFile,
  index: number,
  provider: HardhatEthersSigner,
  endEpoch: bigint,
  label?: string,
): Promise<PublishedDeal> {
  const [deal] = await publishDeals(f, [file.pieces[index]], {
    client: f.worker,
    provider,
    fields: {
      endEpoch,
      storagePricePerEpoch: 1n,
      label: label ?? repairSlotLabel((await f.repair.getAddress()) as Address, dealId, index),
    },
  });
  return deal;
}

/**
 * Stores and assigns every piece of `file`, piece i with provider i; then (unless `confirm` is
 * false) proves each provider's data set once and confirms every piece, so the deal is Active.
 */
export async function placeFile(
  f: RepairFixture,
  dealId: bigint,
  file: TestFile,
  options: { confirm?: boolean } = {},
): Promise<PublishedDeal[]> {
  const deal = await f.repair.getDeal(dealId);
  const stored: PublishedDeal[] = [];
  for (let i = 0; i < file.pieces.length; i++) {
    const storage = await storePiece(f, dealId, file, i, f.providers[i], deal.endEpoch + 100n);
    await f.repair.connect(f.worker).assignPiece(dealId, i, storage.dealId, storage.proposal, file.droot.proof(i));
    stored.push(storage);
  }
  if (options.confirm !== false)
    await confirmPieces(
      f,
      dealId,
      stored.map((_, i) => i),
      stored,
    );
  return stored;
}

const STORAGE_ACTIVE = 2n;
const STORAGE_FAULTED = 3n;

/**
 * Mines block by block until every one of these storage deals reads Faulted in StorageMarket
 * (their providers stopped proving); throws after four proving periods.
 */
export async function mineUntilFaulted(f: Pick<RepairFixture, "market">, storageDealIds: bigint[]): Promise<void> {
  for (let epochs = 0; ; epochs++) {
    const states = await Promise.all(storageDealIds.map(async (id) => (await f.market.dealInfo(id)).state));
    if (states.every((s) => s === STORAGE_FAULTED)) return;
    if (epochs > 4 * Number(PERIOD))
      throw new Error(`storage deals ${storageDealIds.join(", ")} read ${states.join(", ")}`);
    await mine(1);
  }
}

/**
 * Proves, once, the data set holding each of these pieces' current storage deals (in that set's
 * next challenge window) and calls `confirmPiece` for each as soon as its deal reads Active.
 * `held` is every storage deal those data sets hold (a proof needs them all). Mines block by
 * block; throws when a piece is still unconfirmed after four proving periods.
 */
export async function confirmPieces(
  f: RepairFixture,
  dealId: bigint,
  indexes: number[],
  held: PublishedDeal[],
  onConfirmed?: (gasUsed: number, index: number) => void,
): Promise<void> {
  const pending = new Set(indexes);
  for (let epochs = 0; pending.size > 0; epochs++) {
    if (epochs > 4 * Number(PERIOD))
      throw new Error(`pieces ${[...pending].join(", ")} not confirmed in ${epochs} epochs`);
    for (const index of [...pending]) {
      const slot = await f.repair.pieceSlot(dealId, index);
      const info = await f.market.dealInfo(slot.storageDealId);
      if (info.state === STORAGE_ACTIVE) {
        const receipt = await (await f.repair.connect(f.reporter).confirmPiece(dealId, index)).wait();
        onConfirmed?.(Number(receipt?.gasUsed), index);
        pending.delete(index);
        continue;
      }
      const set = await f.market.dataSetInfo(info.dataSetId);
      const now = BigInt(await ethers.provider.getBlockNumber());
      if (set.currentPeriodProven || now <= set.challengeEpoch || now + 1n > set.deadlineEpoch) continue;
      const signer = [...f.providers, f.provider, f.provider2].find((p) => p.address === info.provider);
      if (!signer) throw new Error(`no signer for provider ${info.provider}`);
      await new TestProver(f.market, signer).track(...held).prove(info.dataSetId);
    }
    if (pending.size > 0) await mine(1);
  }
}

/**
 * Checks RepairMarket holds exactly what it owes: pledges, open bids, unclaimed amounts of open
 * deals and withdrawable balances of `accounts`.
 *
 * @returns Every repair deal, by id order.
 */
export async function expectRepairFundsConserved(
  f: RepairFixture,
  accounts: string[],
): Promise<Awaited<ReturnType<RepairFixture["lens"]["repairMarket"]>>[2]> {
  const [held, owed, deals] = await f.lens.repairMarket(await f.repair.getAddress(), [...new Set(accounts)]);
  if (held !== owed) throw new Error(`RepairMarket holds ${held} but owes ${owed} (difference ${held - owed})`);
  return deals;
}
