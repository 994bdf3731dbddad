import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getAddress, type Abi, type Address, type Hex, type PublicClient } from "viem";
import type { ChainClients } from "../../../actors-ts/chain/clients";
import type { MarketContracts } from "../../../actors-ts/chain/contracts";
import { paymentChannelsAbi, repairMarketAbi, storageMarketAbi } from "../../../actors-ts/chain/generated/abis";
import { getPieceSlot, getRepairDeal, REPAIR_DEAL_STATES } from "../../../actors-ts/chain/repair-market/reads";
import type { FileView } from "./chaos-plan";

/**
 * What the soak reads from the chain: where each file's pieces are (for the tolerance rule), the
 * repair events (for the report), proof gas, and whether every contract holds what it owes.
 */

/** A repair-backed file the soak stored. */
export interface StoredFile {
  dealId: bigint;
  droot: Hex;
  k: number;
  m: number;
  bytes: number;
  sha256: string;
  path: string;
}

/** Reads the piece slots and the state of every stored file's repair deal. */
export async function readFileViews(
  c: Pick<ChainClients, "public">,
  contracts: MarketContracts,
  files: StoredFile[],
): Promise<(FileView & { dealId: bigint; state: string })[]> {
  return Promise.all(
    files.map(async (f) => {
      const deal = await getRepairDeal(c, contracts, f.dealId);
      const slots = await Promise.all(
        Array.from({ length: f.k + f.m }, async (_, index) => {
          const s = await getPieceSlot(c, contracts, f.dealId, index);
          return { index, provider: s.provider, storageDealId: s.storageDealId, lost: s.lostAtEpoch !== 0n };
        }),
      );
      const state = REPAIR_DEAL_STATES[deal.state];
      return { dealId: f.dealId, droot: f.droot, k: f.k, m: f.m, slots, state, closed: state !== "Active" };
    }),
  );
}

/** The repair story of the soak, from RepairMarket's events. */
export interface RepairEvents {
  /** `PieceLost`: a loss reported. */
  lost: { dealId: bigint; index: number; provider: Address; epoch: number }[];
  /** `PieceConfirmed` of a repair (lostAtEpoch ≠ 0): the replacement proven. */
  confirmed: { dealId: bigint; index: number; provider: Address; epoch: number; lostAtEpoch: number }[];
  /** `FileLost`: more than m pieces lost at once; the client's refund. */
  filesLost: { dealId: bigint; epoch: number; clientRefund: bigint }[];
}

/** Reads RepairMarket's loss, confirmation and file-loss events in [fromBlock, toBlock]. */
export async function readRepairEvents(
  chain: PublicClient,
  contracts: MarketContracts,
  fromBlock: bigint,
  toBlock: bigint,
): Promise<RepairEvents> {
  const range = { address: contracts.repairMarket, abi: repairMarketAbi, fromBlock, toBlock } as const;
  const [lost, confirmed, filesLost] = await Promise.all([
    chain.getContractEvents({ ...range, eventName: "PieceLost" }),
    chain.getContractEvents({ ...range, eventName: "PieceConfirmed" }),
    chain.getContractEvents({ ...range, eventName: "FileLost" }),
  ]);
  return {
    lost: lost.map((l) => ({
      dealId: l.args.dealId as bigint,
      index: Number(l.args.index),
      provider: getAddress(l.args.provider as Address),
      epoch: Number(l.blockNumber),
    })),
    confirmed: confirmed
      .filter((l) => (l.args.lostAtEpoch ?? 0n) !== 0n)
      .map((l) => ({
        dealId: l.args.dealId as bigint,
        index: Number(l.args.index),
        provider: getAddress(l.args.provider as Address),
        epoch: Number(l.blockNumber),
        lostAtEpoch: Number(l.args.lostAtEpoch),
      })),
    filesLost: filesLost.map((l) => ({
      dealId: l.args.dealId as bigint,
      epoch: Number(l.blockNumber),
      clientRefund: l.args.clientRefund as bigint,
    })),
  };
}

/** Proof gas of one provider over the soak. */
export interface ProofGas {
  provider: Address;
  /** `provePossession` transactions whose receipts were read. */
  proofs: number;
  /** Their gas used, summed. */
  gasUsed: number;
  gasPerProof: number;
  /** gasUsed / proving periods the soak ran: one proof per data set per period. */
  gasPerPeriod: number;
}

/** Most receipts read for the gas figures; beyond it, an even sample is read and scaled. */
const MAX_RECEIPTS = 1500;

/**
 * Gas of every provider's `provePossession` in [fromBlock, toBlock], from the receipts of the
 * transactions that emitted `PossessionProven` (an even sample of at most {@link MAX_RECEIPTS},
 * scaled up, when there are more).
 */
export async function readProofGas(
  chain: PublicClient,
  contracts: MarketContracts,
  fromBlock: bigint,
  toBlock: bigint,
  periods: number,
): Promise<{ perProvider: ProofGas[]; sampled: boolean }> {
  const logs = await chain.getContractEvents({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    eventName: "PossessionProven",
    fromBlock,
    toBlock,
  });
  const step = Math.max(1, Math.ceil(logs.length / MAX_RECEIPTS));
  const byProvider = new Map<Address, { proofs: number; sampled: number; gas: number }>();
  const seen = new Set<Hex>();
  for (let i = 0; i < logs.length; i++) {
    const log = logs[i];
    const provider = getAddress(log.args.provider as Address);
    const entry = byProvider.get(provider) ?? { proofs: 0, sampled: 0, gas: 0 };
    byProvider.set(provider, entry);
    if (seen.has(log.transactionHash)) continue;
    seen.add(log.transactionHash);
    entry.proofs++;
    if (i % step !== 0) continue;
    const receipt = await chain.getTransactionReceipt({ hash: log.transactionHash });
    entry.sampled++;
    entry.gas += Number(receipt.gasUsed);
  }
  const perProvider = [...byProvider].map(([provider, e]) => {
    const gasPerProof = e.sampled > 0 ? Math.round(e.gas / e.sampled) : 0;
    const gasUsed = gasPerProof * e.proofs;
    return { provider, proofs: e.proofs, gasUsed, gasPerProof, gasPerPeriod: Math.round(gasUsed / periods) };
  });
  return { perProvider, sampled: step > 1 };
}

/** One contract's token balance against what it owes. */
export interface Conservation {
  contract: "StorageMarket" | "RepairMarket" | "PaymentChannels";
  held: string;
  owed: string;
  conserved: boolean;
}

/** The test-only lens from the compiler's artifact (`contracts/test/InvariantLens.sol`). */
function lensArtifact(): { abi: Abi; bytecode: Hex } {
  const path = join(
    __dirname,
    "..",
    "..",
    "..",
    "artifacts",
    "contracts",
    "test",
    "InvariantLens.sol",
    "InvariantLens.json",
  );
  return JSON.parse(readFileSync(path, "utf8")) as { abi: Abi; bytecode: Hex };
}

/**
 * Deploys `InvariantLens` (the contract tests' fund-conservation reader) with `deployer` and checks
 * each contract: StorageMarket and RepairMarket through the lens, PaymentChannels as its tests do
 * (funds of every channel plus withdrawable balances). `accounts` must name every account that
 * may hold an escrow or a withdrawable balance.
 */
export async function checkFundsConserved(
  deployer: ChainClients,
  contracts: MarketContracts,
  accounts: Address[],
): Promise<Conservation[]> {
  const { abi, bytecode } = lensArtifact();
  const hash = await deployer.wallet.deployContract({
    abi,
    bytecode,
    account: deployer.account,
    chain: deployer.chain,
  });
  const receipt = await deployer.public.waitForTransactionReceipt({ hash, timeout: 60_000 });
  const lens = receipt.contractAddress as Address;
  const unique = [...new Set(accounts.map((a) => getAddress(a)))];
  const read = (functionName: string, market: Address) =>
    deployer.public.readContract({ address: lens, abi, functionName, args: [market, unique] }) as Promise<
      [bigint, bigint, unknown]
    >;
  const [sHeld, sOwed] = await read("storageMarket", contracts.storageMarket);
  const [rHeld, rOwed] = await read("repairMarket", contracts.repairMarket);
  const token = await deployer.public.readContract({
    address: contracts.paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "token",
  });
  const cHeld = await deployer.public.readContract({
    address: token,
    abi: [
      {
        type: "function",
        name: "balanceOf",
        stateMutability: "view",
        inputs: [{ name: "a", type: "address" }],
        outputs: [{ name: "", type: "uint256" }],
      },
    ] as const,
    functionName: "balanceOf",
    args: [contracts.paymentChannels],
  });
  const channels = { address: contracts.paymentChannels, abi: paymentChannelsAbi } as const;
  const next = await deployer.public.readContract({ ...channels, functionName: "nextChannelId" });
  let cOwed = 0n;
  for (let id = 1n; id < next; id++)
    cOwed += (await deployer.public.readContract({ ...channels, functionName: "getChannel", args: [id] })).funds;
  for (const a of unique)
    cOwed += await deployer.public.readContract({ ...channels, functionName: "balanceOf", args: [a] });
  const row = (contract: Conservation["contract"], held: bigint, owed: bigint): Conservation => ({
    contract,
    held: held.toString(),
    owed: owed.toString(),
    conserved: held === owed,
  });
  return [row("StorageMarket", sHeld, sOwed), row("RepairMarket", rHeld, rOwed), row("PaymentChannels", cHeld, cOwed)];
}

/** Every account named as a reporter in StorageMarket's and RepairMarket's events (bounties). */
export async function reporters(
  chain: PublicClient,
  contracts: MarketContracts,
  fromBlock: bigint,
): Promise<Address[]> {
  const faults = await chain.getContractEvents({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    eventName: "FaultRecorded",
    fromBlock,
  });
  const losses = await chain.getContractEvents({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    eventName: "PieceLost",
    fromBlock,
  });
  const slashes = await chain.getContractEvents({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    eventName: "RepairMinerSlashed",
    fromBlock,
  });
  return [
    ...faults.map((l) => l.args.reporter as Address),
    ...losses.map((l) => l.args.reporter as Address),
    ...slashes.map((l) => l.args.caller as Address),
  ];
}
