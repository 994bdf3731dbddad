/**
 * `npx hardhat rm <task> --network localhost`, repair side (seed 000): repair asks, bids, a repair
 * deal's pieces and health, and claiming a miner's earnings. Plumbing in tasks/lib.ts.
 */
import { types } from "hardhat/config";
import type { Address, Hex } from "viem";
import { common, connect, ids, print, rm, run, type CommonArgs, type Session } from "./lib";

/** The repair miner whose worker is `worker`, or undefined. */
async function minerOf(s: Session, worker: Address): Promise<bigint | undefined> {
  const { repairMinerOfWorker } = await import("../actors-ts/chain/repair-market/reads");
  return repairMinerOfWorker(s.clients, s.contracts, worker);
}

common(
  rm
    .task("repair-ask", "post a repair ask (AddRepairAsk, seed 000), creating the account's repair miner if needed")
    .addOptionalParam("price", "token base units per encoded byte per epoch", "1", types.string)
    .addOptionalParam("maxSize", "largest encoded file, bytes", (1n << 36n).toString(), types.string)
    .addOptionalParam("validity", "epochs the ask stays valid", "100000", types.string)
    .addOptionalParam(
      "pledge",
      "pledge when the miner is created, token base units",
      (10n ** 21n).toString(),
      types.string,
    )
    .addOptionalParam("endpoint", "miner URL when it is created", "http://127.0.0.1:0", types.string),
).setAction(
  run(
    async (
      args: CommonArgs & { price: string; maxSize: string; validity: string; pledge: string; endpoint: string },
      hre,
    ) => {
      const s = await connect(hre, args);
      const { addRepairAsk, createRepairMiner } = await import("../actors-ts/chain/repair-market/actions");
      const worker = s.clients.account.address;
      let minerId = await minerOf(s, worker);
      if (minerId === undefined) {
        minerId = (await createRepairMiner(s.clients, s.contracts, worker, BigInt(args.pledge), args.endpoint)).minerId;
      }
      const head = await s.clients.public.getBlockNumber();
      const r = await addRepairAsk(s.clients, s.contracts, {
        minerId,
        pricePerBytePerEpoch: BigInt(args.price),
        maxSize: BigInt(args.maxSize),
        expiryEpoch: head + BigInt(args.validity),
      });
      print(args, { minerId, askId: r.askId, tx: r.hash });
    },
  ),
);

common(
  rm
    .task("bid", "post a repair bid (AddBid, seed 000): locks price · size · duration from the account")
    .addParam("droot", "the file's droot (0x…, 32 bytes)", undefined, types.string)
    .addParam("pieceSize", "padded piece size, bytes (a power of two)", undefined, types.string)
    .addOptionalParam("k", "data pieces", 4, types.int)
    .addOptionalParam("m", "parity pieces", 2, types.int)
    .addOptionalParam("scheme", "erasure code: 0 Reed–Solomon, 1 Clay", 0, types.int)
    .addOptionalParam("d", "Clay helpers per repair (k ≤ d ≤ k + m − 1; 0 for Reed–Solomon)", 0, types.int)
    .addOptionalParam("price", "token base units per encoded byte per epoch", "1", types.string)
    .addOptionalParam("duration", "deal duration, epochs", "1000", types.string)
    .addOptionalParam("validity", "epochs the bid stays open", "1000", types.string),
).setAction(
  run(
    async (
      args: CommonArgs & {
        droot: string;
        pieceSize: string;
        k: number;
        m: number;
        scheme: number;
        d: number;
        price: string;
        duration: string;
        validity: string;
      },
      hre,
    ) => {
      if (!/^0x[0-9a-fA-F]{64}$/.test(args.droot))
        throw new Error(`--droot must be 32 bytes of hex, got "${args.droot}"`);
      const s = await connect(hre, args);
      const { addBid } = await import("../actors-ts/chain/repair-market/actions");
      const pieceSize = BigInt(args.pieceSize);
      const head = await s.clients.public.getBlockNumber();
      const r = await addBid(s.clients, s.contracts, {
        droot: args.droot as Hex,
        pricePerBytePerEpoch: BigInt(args.price),
        // Payload bytes (RepairMarket pays for these, not padding): full pieces, 127/128 of pieceSize.
        size: ((pieceSize * 127n) / 128n) * BigInt(args.k + args.m),
        durationEpochs: BigInt(args.duration),
        expiryEpoch: head + BigInt(args.validity),
        codingParams: { k: args.k, m: args.m, pieceSize, scheme: args.scheme, d: args.d },
      });
      print(args, { bidId: r.bidId, locked: r.amount, tx: r.hash });
    },
  ),
);

common(
  rm
    .task("repair-deal", "show a repair deal: state, and each piece's provider, storage deal and health")
    .addParam("id", "repair deal id", undefined, types.string),
).setAction(
  run(async (args: CommonArgs & { id: string }, hre) => {
    const s = await connect(hre, args);
    const { repairDealPieces } = await import("../actors-ts/chain/repair-market/reads");
    const { dealInfo } = await import("../actors-ts/chain/storage-market/reads");
    const { repairMarketAbi } = await import("../actors-ts/chain/generated/abis");
    const dealId = ids(args.id)[0];
    const deal = await s.clients.public.readContract({
      address: s.contracts.repairMarket,
      abi: repairMarketAbi,
      functionName: "getDeal",
      args: [dealId],
    });
    if (deal.state === 0) throw new Error(`repair deal ${dealId} does not exist`);
    const placed = await repairDealPieces(s.clients, s.contracts, dealId);
    const pieces = [];
    for (const p of placed.pieces) {
      const state = (await dealInfo(s.clients, s.contracts, p.storageDealId)).stateName;
      pieces.push({
        index: p.index,
        provider: p.provider,
        storageDealId: p.storageDealId,
        storageDealState: state,
        lost: p.lost,
      });
    }
    const healthy = pieces.filter((p) => !p.lost && p.storageDealState === "Active").length;
    const summary = {
      dealId,
      state: placed.state,
      minerId: placed.minerId,
      droot: deal.droot,
      client: deal.client,
      k: deal.codingParams.k,
      m: deal.codingParams.m,
      pieceSize: deal.codingParams.pieceSize,
      healthyPieces: healthy,
      endEpoch: deal.endEpoch,
    };
    if (args.json) {
      print(args, { ...summary, pieces });
      return;
    }
    print(args, summary);
    print(args, pieces, "pieces:");
  }),
);

common(
  rm
    .task("claim", "claim a repair miner's earnings (RepairMarket.claimEarnings, seed 000)")
    .addOptionalParam(
      "deals",
      "comma-separated repair deal ids (default: every deal of the miner)",
      undefined,
      types.string,
    )
    .addOptionalParam("miner", "repair miner id (default: the signing account's miner)", undefined, types.string),
).setAction(
  run(async (args: CommonArgs & { deals?: string; miner?: string }, hre) => {
    const s = await connect(hre, args);
    const { claimEarnings } = await import("../actors-ts/chain/repair-market/actions");
    let dealIds = ids(args.deals);
    if (dealIds.length === 0) {
      const minerId = args.miner !== undefined ? ids(args.miner)[0] : await minerOf(s, s.clients.account.address);
      if (minerId === undefined)
        throw new Error(`${s.clients.account.address} runs no repair miner; pass --miner or --deals`);
      const { repairDealsOfMiner } = await import("../actors-ts/chain/repair-market/reads");
      dealIds = await repairDealsOfMiner(s.clients, s.contracts, minerId);
    }
    if (dealIds.length === 0) {
      print(args, [], "no repair deals to claim for");
      return;
    }
    const r = await claimEarnings(s.clients, s.contracts, dealIds);
    print(
      args,
      dealIds.map((dealId, i) => ({ dealId, claimed: r.amounts[i] ?? 0n, tx: r.hash })),
    );
  }),
);
