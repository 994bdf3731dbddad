import { ethers, network } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { randomBytes } from "node:crypto";
import { CommPHasher, PieceTreeCache, type PieceCommitment } from "../../../actors-ts/piece";
import {
  STORAGE_DEAL_ACCEPTANCE_TYPES,
  STORAGE_DEAL_PROPOSAL_TYPES,
  STORAGE_MARKET_DOMAIN,
  type StorageDealProposal,
} from "../../../actors-ts/chain/eip712";
import type { InvariantLens, PaymentToken, StorageMarket } from "../../../typechain-types";
import type { IStorageMarket } from "../../../typechain-types/contracts/market/StorageMarket";

/** Short periods so tests move through many of them quickly. */
export const TEST_PARAMS: IStorageMarket.MarketParamsStruct = {
  provingPeriodEpochs: 20n,
  challengeWindowEpochs: 8n,
  challengesPerProof: 5,
  maxConsecutiveFaults: 3,
  declaredFaultPenaltyBps: 500,
  reporterBountyBps: 1000,
  faultReportBounty: 10n ** 15n,
  maxDealDurationEpochs: 100_000n,
};
export const PERIOD = 20n;

export const INITIAL_BALANCE = ethers.parseEther("1000000");

export interface MarketFixture {
  token: PaymentToken;
  market: StorageMarket;
  /** Test-only reader for the invariants (one call instead of one per account). */
  lens: InvariantLens;
  deployer: HardhatEthersSigner;
  client: HardhatEthersSigner;
  provider: HardhatEthersSigner;
  provider2: HardhatEthersSigner;
  reporter: HardhatEthersSigner;
  other: HardhatEthersSigner;
  accounts: string[];
}

/** Deploys token + market and gives five accounts tokens and allowances. */
export async function deployMarket(params: IStorageMarket.MarketParamsStruct = TEST_PARAMS): Promise<MarketFixture> {
  const [deployer, client, provider, provider2, reporter, other] = await ethers.getSigners();
  const token = await ethers.deployContract("PaymentToken", ["Test FIL", "tFIL", ethers.parseEther("1000000000")]);
  const market = await ethers.deployContract("StorageMarket", [await token.getAddress(), params]);
  const lens = await ethers.deployContract("InvariantLens");
  for (const signer of [client, provider, provider2, reporter, other]) {
    await token.transfer(signer.address, INITIAL_BALANCE);
    await token.connect(signer).approve(await market.getAddress(), ethers.MaxUint256);
  }
  return {
    token,
    market,
    lens,
    deployer,
    client,
    provider,
    provider2,
    reporter,
    other,
    accounts: [deployer, client, provider, provider2, reporter, other].map((s) => s.address),
  };
}

/** A random piece held in memory with its commitment (and tree cache when large). */
export interface TestPiece {
  payload: Uint8Array;
  commitment: PieceCommitment;
  cache?: PieceTreeCache;
  pieceCid: `0x${string}`;
}

/** Random payload of `size` bytes and its CommP. */
export function makePiece(size = 2000, fill: "random" | "zero" = "random"): TestPiece {
  const payload = fill === "zero" ? new Uint8Array(size) : randomBytes(size);
  const roots: Uint8Array[] = [];
  const commitment = new CommPHasher({ onChunkRoot: (_i, root) => roots.push(root) }).update(payload).digest();
  const cache = commitment.height > 15 ? new PieceTreeCache(roots, commitment.height) : undefined;
  return { payload, commitment, cache, pieceCid: ethers.hexlify(commitment.root) as `0x${string}` };
}

let nonceCounter = 1n;

/** Most payload bytes a piece of `pieceSize` padded bytes holds (fr32: 127 of every 128). */
export function payloadCapacity(pieceSize: bigint): bigint {
  return (pieceSize / 128n) * 127n;
}

/** Leaves holding `payloadSize` bytes once fr32-padded: a piece's challenge weight on chain. */
export function payloadLeaves(payloadSize: bigint): bigint {
  return (payloadSize * 4n + 126n) / 127n;
}

/** A proposal with sensible defaults: starts two periods from now, runs 10 periods. */
export async function makeProposal(
  fields: Omit<Partial<StorageDealProposal>, "client" | "provider"> & {
    client: string;
    provider: string;
    piece?: TestPiece;
  },
): Promise<StorageDealProposal> {
  const now = BigInt(await ethers.provider.getBlockNumber());
  const piece = fields.piece ?? makePiece();
  const startEpoch = fields.startEpoch ?? now + 3n * PERIOD;
  return {
    pieceCid: fields.pieceCid ?? piece.pieceCid,
    pieceSize: fields.pieceSize ?? BigInt(piece.commitment.paddedSize),
    // A piece given by size alone is taken as full (the most payload its padding holds).
    payloadSize:
      fields.payloadSize ??
      (fields.pieceSize !== undefined ? payloadCapacity(fields.pieceSize) : BigInt(piece.payload.length)),
    client: fields.client as `0x${string}`,
    provider: fields.provider as `0x${string}`,
    label: fields.label ?? "test deal",
    startEpoch,
    endEpoch: fields.endEpoch ?? startEpoch + 10n * PERIOD,
    storagePricePerEpoch: fields.storagePricePerEpoch ?? 1000n,
    providerCollateral: fields.providerCollateral ?? ethers.parseEther("1"),
    clientCollateral: fields.clientCollateral ?? ethers.parseEther("0.1"),
    nonce: fields.nonce ?? nonceCounter++,
  };
}

/** EIP-712 signature of `proposal` by `signer` for `market` on this chain. */
export async function signProposal(
  market: StorageMarket,
  signer: HardhatEthersSigner,
  proposal: StorageDealProposal,
  overrides: DomainOverrides = {},
): Promise<string> {
  const types = { StorageDealProposal: [...STORAGE_DEAL_PROPOSAL_TYPES.StorageDealProposal] };
  return signer.signTypedData(await marketDomain(market, overrides), types, proposal);
}

/** `signer`'s EIP-712 `StorageDealAcceptance` of `proposal` (the provider's half of a deal). */
export async function signAcceptance(
  market: StorageMarket,
  signer: HardhatEthersSigner,
  proposal: StorageDealProposal,
  overrides: DomainOverrides = {},
): Promise<string> {
  const types = {
    StorageDealAcceptance: [...STORAGE_DEAL_ACCEPTANCE_TYPES.StorageDealAcceptance],
    StorageDealProposal: [...STORAGE_DEAL_PROPOSAL_TYPES.StorageDealProposal],
  };
  return signer.signTypedData(await marketDomain(market, overrides), types, { proposal });
}

/** Another chain or contract to sign for (replay tests). */
type DomainOverrides = { chainId?: bigint; verifyingContract?: string };

async function marketDomain(market: StorageMarket, overrides: DomainOverrides) {
  return {
    ...STORAGE_MARKET_DOMAIN,
    chainId: overrides.chainId ?? BigInt(network.config.chainId ?? 31337),
    verifyingContract: overrides.verifyingContract ?? (await market.getAddress()),
  };
}

/** Everything the client locks for a proposal. */
export function clientLock(p: StorageDealProposal): bigint {
  return p.storagePricePerEpoch * (p.endEpoch - p.startEpoch) + p.clientCollateral;
}

/** Deposits enough escrow for both parties of the given proposals. */
export async function fundEscrow(
  fixture: MarketFixture,
  client: HardhatEthersSigner,
  provider: HardhatEthersSigner,
  proposals: StorageDealProposal[],
): Promise<void> {
  const clientTotal = proposals.reduce((sum, p) => sum + clientLock(p), 0n);
  const providerTotal = proposals.reduce((sum, p) => sum + p.providerCollateral, 0n);
  if (clientTotal > 0n) await fixture.market.connect(client).addBalance(client.address, clientTotal);
  if (providerTotal > 0n) await fixture.market.connect(provider).addBalance(provider.address, providerTotal);
}

/** A published deal as the tests track it. */
export interface PublishedDeal {
  dealId: bigint;
  proposal: StorageDealProposal;
  piece: TestPiece;
}

/** Signs, funds and publishes one deal per piece; returns them in order. */
export async function publishDeals(
  fixture: MarketFixture,
  pieces: TestPiece[],
  options: {
    client?: HardhatEthersSigner;
    provider?: HardhatEthersSigner;
    fields?: Partial<StorageDealProposal>;
    /** Fields of the i-th proposal only (over `fields`), e.g. a label per piece. */
    fieldsOf?: (i: number) => Partial<StorageDealProposal>;
  } = {},
): Promise<PublishedDeal[]> {
  const client = options.client ?? fixture.client;
  const provider = options.provider ?? fixture.provider;
  const proposals: StorageDealProposal[] = [];
  for (const [i, piece] of pieces.entries()) {
    proposals.push(
      await makeProposal({
        ...options.fields,
        ...options.fieldsOf?.(i),
        client: client.address,
        provider: provider.address,
        piece,
      }),
    );
  }
  await fundEscrow(fixture, client, provider, proposals);
  const signed = [];
  for (const p of proposals)
    signed.push({
      proposal: p,
      providerSignature: "0x",
      clientSignature: await signProposal(fixture.market, client, p),
    });
  const firstId = await fixture.market.nextDealId();
  const [, results] = await fixture.market.connect(provider).publishStorageDeals.staticCall(signed);
  if (results.some((r) => r !== 0n))
    throw new Error(`publish skipped items, PublishResult codes: ${results.join(",")}`);
  const tx = await fixture.market.connect(provider).publishStorageDeals(signed);
  await tx.wait();
  const next = await fixture.market.nextDealId();
  if (next - firstId !== BigInt(pieces.length))
    throw new Error(`published ${next - firstId} of ${pieces.length} deals`);
  return proposals.map((proposal, i) => ({ dealId: firstId + BigInt(i), proposal, piece: pieces[i] }));
}

/**
 * The data set a test means by a provider: `target` itself when it is an id, else the provider's
 * newest data set that still takes deals (else its newest one; 0n when it has none).
 */
export async function dataSetOf(market: StorageMarket, target: string | bigint): Promise<bigint> {
  if (typeof target === "bigint") return target;
  const [ids] = await market.providerDataSets(target, 0, 1000);
  for (const id of [...ids].reverse()) if ((await market.dataSetInfo(id)).current) return id;
  return ids.length > 0 ? ids[ids.length - 1] : 0n;
}

/**
 * Mines until the latest block is past the data set's current challenge epoch, so both views
 * (`challengedPiece`, run at the latest block) and the next proof transaction see the seed.
 * `target` is a data set id or a provider (see `dataSetOf`).
 */
export async function advanceToChallengeWindow(market: StorageMarket, target: string | bigint): Promise<void> {
  const info = await market.dataSetInfo(await dataSetOf(market, target));
  const now = BigInt(await ethers.provider.getBlockNumber());
  if (now <= info.challengeEpoch) await mine(info.challengeEpoch - now + 1n);
}

/** Mines until the data set's next period starts (nothing when there is no such set). */
export async function advanceToNextPeriod(market: StorageMarket, target: string | bigint): Promise<void> {
  const info = await market.dataSetInfo(await dataSetOf(market, target));
  if (info.anchorEpoch === 0n) return;
  const now = BigInt(await ethers.provider.getBlockNumber());
  await mine(info.deadlineEpoch - now + 1n);
}

/**
 * Checks the market holds exactly what it owes: token balance = Σ free + locked over `accounts`.
 *
 * @returns Each account's locked balance, in the order given.
 */
export async function expectFundsConserved(
  fixture: Pick<MarketFixture, "market" | "lens">,
  accounts: string[],
): Promise<bigint[]> {
  const unique = [...new Set(accounts)];
  const [held, owed, locked] = await fixture.lens.storageMarket(await fixture.market.getAddress(), unique);
  if (held !== owed) throw new Error(`market holds ${held} but owes ${owed} (difference ${held - owed})`);
  return accounts.map((a) => locked[unique.indexOf(a)]);
}
