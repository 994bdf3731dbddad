import type { Address, ContractEventName, ContractFunctionArgs, ContractFunctionName, Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { repairMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { REPAIR_DEAL_AUTHORIZATION_TYPES, REPAIR_MARKET_DOMAIN, type StorageDealProposal } from "../eip712";
import { requireEvent, sendContract } from "../send";
import { ensureAllowance } from "../token/approve";

/**
 * RepairMarket writes, one function each, built on `sendContract` (simulate, send, confirm,
 * decode events). Amounts are token base units, epochs are block numbers. Every function throws
 * ContractRevertedError carrying the contract's custom error on a revert (seed 000 "Market Flow
 * (with repair)"; DESIGN.md "RepairMarket").
 */

/** Erasure-coding parameters as the contract stores them. */
export interface CodingParams {
  k: number;
  m: number;
  /** Padded piece size, bytes (a power of two ≥ 128). */
  pieceSize: bigint;
  /** The erasure code: 0 Reed–Solomon, 1 Clay (`CODING_SCHEME` in erasure/coding.ts). */
  scheme: number;
  /** Clay's helpers per single-piece repair, k ≤ d ≤ k + m − 1; 0 for Reed–Solomon. */
  d: number;
}

type WriteName = ContractFunctionName<typeof repairMarketAbi, "nonpayable" | "payable">;
type EventName = ContractEventName<typeof repairMarketAbi>;

/** `sendContract` on this deployment's RepairMarket, typed by its ABI. */
function send<const F extends WriteName, const E extends EventName | undefined = undefined>(
  clients: ChainClients,
  contracts: MarketContracts,
  functionName: F,
  args: ContractFunctionArgs<typeof repairMarketAbi, "nonpayable" | "payable", F>,
  events?: E[],
) {
  return sendContract(
    clients,
    { contract: "RepairMarket", address: contracts.repairMarket, abi: repairMarketAbi, functionName, args },
    events,
  );
}

/**
 * `createRepairMiner(worker, pledge, endpoint, workerSignature)`; approves the pledge first. The
 * worker consents by being the sender (the default, `workerSignature` "0x") or by its EIP-712
 * `RepairMinerConsent` signature; a worker serves one miner.
 *
 * @throws ContractRevertedError (WorkerHasMiner, InvalidWorkerConsent, InvalidEndpoint).
 */
export async function createRepairMiner(
  clients: ChainClients,
  contracts: MarketContracts,
  worker: Address,
  pledge: bigint,
  endpoint: string,
  workerSignature: Hex = "0x",
): Promise<{ hash: Hex; minerId: bigint }> {
  if (pledge > 0n) await ensureAllowance(clients, contracts.token, contracts.repairMarket, pledge);
  const sent = await send(
    clients,
    contracts,
    "createRepairMiner",
    [worker, pledge, endpoint, workerSignature],
    ["RepairMinerCreated"],
  );
  return { hash: sent.hash, minerId: requireEvent(sent, "RepairMarket", "RepairMinerCreated").args.minerId };
}

/** `addPledge(minerId, amount)`; approves first. */
export async function addPledge(
  clients: ChainClients,
  contracts: MarketContracts,
  minerId: bigint,
  amount: bigint,
): Promise<Hex> {
  await ensureAllowance(clients, contracts.token, contracts.repairMarket, amount);
  return (await send(clients, contracts, "addPledge", [minerId, amount])).hash;
}

/** `setMinerEndpoint(minerId, endpoint)`. */
export async function setMinerEndpoint(
  clients: ChainClients,
  contracts: MarketContracts,
  minerId: bigint,
  endpoint: string,
): Promise<Hex> {
  return (await send(clients, contracts, "setMinerEndpoint", [minerId, endpoint])).hash;
}

/** `addRepairAsk(minerId, pricePerBytePerEpoch, maxSize, expiryEpoch)`. */
export async function addRepairAsk(
  clients: ChainClients,
  contracts: MarketContracts,
  ask: { minerId: bigint; pricePerBytePerEpoch: bigint; maxSize: bigint; expiryEpoch: bigint },
): Promise<{ hash: Hex; askId: bigint }> {
  const sent = await send(
    clients,
    contracts,
    "addRepairAsk",
    [ask.minerId, ask.pricePerBytePerEpoch, ask.maxSize, ask.expiryEpoch],
    ["RepairAskAdded"],
  );
  return { hash: sent.hash, askId: requireEvent(sent, "RepairMarket", "RepairAskAdded").args.askId };
}

/** `cancelRepairAsk(askId)`. */
export async function cancelRepairAsk(clients: ChainClients, contracts: MarketContracts, askId: bigint): Promise<Hex> {
  return (await send(clients, contracts, "cancelRepairAsk", [askId])).hash;
}

/**
 * `addBid(droot, price, size, duration, expiry, codingParams)`: locks price · size · duration;
 * approves first.
 */
export async function addBid(
  clients: ChainClients,
  contracts: MarketContracts,
  bid: {
    droot: Hex;
    pricePerBytePerEpoch: bigint;
    size: bigint;
    durationEpochs: bigint;
    expiryEpoch: bigint;
    codingParams: CodingParams;
  },
): Promise<{ hash: Hex; bidId: bigint; amount: bigint }> {
  const amount = bid.pricePerBytePerEpoch * bid.size * bid.durationEpochs;
  if (amount > 0n) await ensureAllowance(clients, contracts.token, contracts.repairMarket, amount);
  const sent = await send(
    clients,
    contracts,
    "addBid",
    [bid.droot, bid.pricePerBytePerEpoch, bid.size, bid.durationEpochs, bid.expiryEpoch, bid.codingParams],
    ["BidAdded"],
  );
  const { args } = requireEvent(sent, "RepairMarket", "BidAdded");
  return { hash: sent.hash, bidId: args.bidId, amount: args.amount };
}

/** `cancelBid(bidId)`: the bid's funds become withdrawable. */
export async function cancelBid(clients: ChainClients, contracts: MarketContracts, bidId: bigint): Promise<Hex> {
  return (await cancelBidWithRefund(clients, contracts, bidId)).hash;
}

/**
 * `cancelBid(bidId)` by the bid's client: the locked amount moves to its RepairMarket balance
 * (withdraw it with `withdrawRepairBalance`).
 *
 * @returns The refund in token base units (`BidCancelled`).
 * @throws ContractRevertedError (NotBidClient, BidNotOpen), MissingEventError.
 */
export async function cancelBidWithRefund(
  clients: ChainClients,
  contracts: MarketContracts,
  bidId: bigint,
): Promise<{ hash: Hex; refund: bigint }> {
  const sent = await send(clients, contracts, "cancelBid", [bidId], ["BidCancelled"]);
  const { args } = requireEvent(sent, "RepairMarket", "BidCancelled");
  return { hash: sent.hash, refund: args.refund };
}

/**
 * Signs `RepairDealAuthorization(bidId, askId, minerId, deadline)` (EIP-712, domain
 * "RepairMarket"/"1"): the client's consent to this miner taking this bid with this ask.
 */
export function signDealAuthorization(
  account: PrivateKeyAccount,
  chainId: number,
  repairMarket: Address,
  auth: { bidId: bigint; askId: bigint; minerId: bigint; deadline: bigint },
): Promise<Hex> {
  return account.signTypedData({
    domain: { ...REPAIR_MARKET_DOMAIN, chainId, verifyingContract: repairMarket },
    types: REPAIR_DEAL_AUTHORIZATION_TYPES,
    primaryType: "RepairDealAuthorization",
    message: auth,
  });
}

/** `addDeal(askId, bidId, deadline, clientSignature)` by the miner's operator. */
export async function addDeal(
  clients: ChainClients,
  contracts: MarketContracts,
  deal: { askId: bigint; bidId: bigint; deadline: bigint; clientSignature: Hex },
): Promise<{ hash: Hex; dealId: bigint; endEpoch: bigint }> {
  const sent = await send(
    clients,
    contracts,
    "addDeal",
    [deal.askId, deal.bidId, deal.deadline, deal.clientSignature],
    ["RepairDealCreated"],
  );
  const { args } = requireEvent(sent, "RepairMarket", "RepairDealCreated");
  return { hash: sent.hash, dealId: args.dealId, endEpoch: args.endEpoch };
}

/**
 * `assignPiece` (first placement) or `reassignPiece` (a repair) of piece `index` of a repair deal
 * to a published storage deal whose client is the miner's worker.
 *
 * @param proof Merkle proof of leaf `index` in the deal's droot.
 */
export async function placePieceOnChain(
  clients: ChainClients,
  contracts: MarketContracts,
  mode: "assign" | "reassign",
  piece: { dealId: bigint; index: number; storageDealId: bigint; proposal: StorageDealProposal; proof: Hex[] },
): Promise<Hex> {
  const args = [piece.dealId, BigInt(piece.index), piece.storageDealId, piece.proposal, piece.proof] as const;
  const sent =
    mode === "assign"
      ? await send(clients, contracts, "assignPiece", args)
      : await send(clients, contracts, "reassignPiece", args);
  return sent.hash;
}

/**
 * `confirmPiece(dealId, index)`: anyone may call once the piece's storage deal reads Active in
 * StorageMarket (proven since it was assigned). Confirms a first placement (the last one
 * activates the deal), a repair, or a transient fault's recovery (decision 25).
 *
 * @returns The transaction hash and the loss it ended (`lostAtEpoch`, 0n for a first placement).
 * @throws ContractRevertedError `StorageDealNotProven`, `PieceAlreadyConfirmed`, `RepairDealEnded`.
 */
export async function confirmPieceOnChain(
  clients: ChainClients,
  contracts: MarketContracts,
  dealId: bigint,
  index: number,
): Promise<{ hash: Hex; lostAtEpoch: bigint; activated: boolean }> {
  const sent = await send(
    clients,
    contracts,
    "confirmPiece",
    [dealId, BigInt(index)],
    ["PieceConfirmed", "RepairDealActivated"],
  );
  return {
    hash: sent.hash,
    lostAtEpoch: requireEvent(sent, "RepairMarket", "PieceConfirmed").args.lostAtEpoch,
    activated: sent.events.some((e) => e.eventName === "RepairDealActivated"),
  };
}

/**
 * `reportPieceLoss(dealId, index)`: anyone may call once the piece's storage deal is Faulted or
 * Terminated. Losing more than m pieces ends the deal as Lost and refunds the client.
 *
 * @returns Whether this report made the file lost (`FileLost`).
 */
export async function reportPieceLoss(
  clients: ChainClients,
  contracts: MarketContracts,
  dealId: bigint,
  index: number,
): Promise<{ hash: Hex; fileLost: boolean; refund: bigint }> {
  const sent = await send(clients, contracts, "reportPieceLoss", [dealId, BigInt(index)], ["PieceLost", "FileLost"]);
  const lost = sent.events.find((e) => e.eventName === "FileLost");
  return {
    hash: sent.hash,
    fileLost: lost !== undefined,
    refund: lost?.eventName === "FileLost" ? lost.args.clientRefund : 0n,
  };
}

/** `claimEarnings(dealIds)`: pays the miner's owner what the deals earned so far. */
export async function claimEarnings(
  clients: ChainClients,
  contracts: MarketContracts,
  dealIds: bigint[],
): Promise<{ hash: Hex; amounts: bigint[] }> {
  const sent = await send(clients, contracts, "claimEarnings", [dealIds], ["EarningsClaimed"]);
  const amounts = dealIds.map(
    (id) => sent.events.find((e) => e.eventName === "EarningsClaimed" && e.args.dealId === id)?.args.amount ?? 0n,
  );
  return { hash: sent.hash, amounts };
}

/** `withdraw(amount)`: moves claimed earnings or refunds to the caller's wallet. */
export async function withdrawRepairBalance(
  clients: ChainClients,
  contracts: MarketContracts,
  amount: bigint,
): Promise<Hex> {
  return (await send(clients, contracts, "withdraw", [amount])).hash;
}

/**
 * `extendRepairDeal(dealId, askId, extraEpochs)` by the deal's client: approves and pays
 * `pricePerBytePerEpoch · size · extraEpochs` (the deal's bid price, token base units) and moves
 * the deal's end `extraEpochs` later. The miner consents through `askId`, one of its active asks
 * that covers the deal's price and size.
 *
 * @returns The new end epoch and what was locked (`RepairDealExtended`).
 * @throws ContractRevertedError (ExtensionTooLate, NotDealClient, DealNotOpen, AskNotActive,
 *   AskExpired, AskDoesNotCoverBid, InvalidDuration), MissingEventError.
 */
export async function extendRepairDeal(
  clients: ChainClients,
  contracts: MarketContracts,
  args: { dealId: bigint; askId: bigint; extraEpochs: bigint; cost: bigint },
): Promise<{ hash: Hex; oldEndEpoch: bigint; newEndEpoch: bigint; amount: bigint }> {
  if (args.cost > 0n) await ensureAllowance(clients, contracts.token, contracts.repairMarket, args.cost);
  const sent = await send(
    clients,
    contracts,
    "extendRepairDeal",
    [args.dealId, args.askId, args.extraEpochs],
    ["RepairDealExtended"],
  );
  const { args: event } = requireEvent(sent, "RepairMarket", "RepairDealExtended");
  return { hash: sent.hash, oldEndEpoch: event.oldEndEpoch, newEndEpoch: event.newEndEpoch, amount: event.amount };
}
