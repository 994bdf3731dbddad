/**
 * `npx hardhat rm <task> --network localhost`: poke at a running devnet (`npm run devnet`, or
 * `npx hardhat node` + `scripts/deploy.ts`) without writing code. Every task reads the contract
 * addresses from `deployments/<chainId>.json` (or `--deployment`), signs with one of Hardhat's
 * dev accounts (`--account N`, default 0) or `--key`, and prints a table, or JSON with `--json`.
 *
 * Agent modules are imported inside the actions, not at the top: they need the generated ABIs,
 * which the first `hardhat compile` (that also loads this file) has not written yet.
 */
import { scope, types } from "hardhat/config";
import { HardhatPluginError } from "hardhat/plugins";
import type { ConfigurableTaskDefinition, HardhatRuntimeEnvironment, HttpNetworkConfig } from "hardhat/types";
import type { Address, Hex } from "viem";
import type { ChainClients } from "../actors-ts/chain/clients";
import type { MarketContracts } from "../actors-ts/chain/contracts";
import type { Deployment } from "../actors-ts/chain/deployment";

const rm = scope(
  "rm",
  "repair-market: register, ask, bid, list deals, repair health, settle, claim (--network localhost)",
);

interface CommonArgs {
  account: number;
  key?: string;
  deployment: string;
  json: boolean;
}

/** A connection to the node behind `--network`, with the deployment read for its chain id. */
interface Session {
  clients: ChainClients;
  contracts: MarketContracts;
  deployment: Deployment;
}

async function connect(hre: HardhatRuntimeEnvironment, args: CommonArgs): Promise<Session> {
  if (hre.network.name === "hardhat") {
    throw new Error(
      "rm tasks talk to a running node: add `--network localhost` (RPC_URL=… picks another URL than 127.0.0.1:8545)",
    );
  }
  const { privateKeyToAccount } = await import("viem/accounts");
  const { connectChain } = await import("../actors-ts/chain/clients");
  const { loadDeployment } = await import("../actors-ts/chain/deployment");
  const { contractsOf } = await import("../actors-ts/chain/contracts");
  const { devKey } = await import("../scripts/lib/agents");
  const key = (args.key ?? devKey(args.account)) as Hex;
  const clients = await connectChain((hre.network.config as HttpNetworkConfig).url, privateKeyToAccount(key));
  const deployment = loadDeployment(args.deployment, clients.chain.id);
  return { clients, contracts: contractsOf(deployment), deployment };
}

/** Prints rows as JSON (`--json`) or as tab-separated lines under a header. */
function print(args: CommonArgs, rows: Record<string, unknown>[] | Record<string, unknown>, header?: string): void {
  const text = (v: unknown) =>
    typeof v === "bigint" ? v.toString() : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`,
    );
    return;
  }
  const list = Array.isArray(rows) ? rows : [rows];
  if (header) process.stdout.write(`${header}\n`);
  if (list.length === 0) {
    if (!header) process.stdout.write("(none)\n");
    return;
  }
  const keys = Object.keys(list[0]);
  process.stdout.write(`${keys.join("\t")}\n`);
  for (const row of list) process.stdout.write(`${keys.map((k) => text(row[k])).join("\t")}\n`);
}

/** Adds --account, --key, --deployment and --json to a task. */
function common(task: ConfigurableTaskDefinition): ConfigurableTaskDefinition {
  return task
    .addOptionalParam("account", "Hardhat dev account index that signs", 0, types.int)
    .addOptionalParam("key", "private key that signs (instead of --account)", undefined, types.string)
    .addOptionalParam("deployment", "deployment file or directory", "deployments", types.string)
    .addFlag("json", "print JSON instead of a table");
}

/**
 * Runs a task body; a failure is reported as one line naming the contract call and its decoded
 * revert (stack with --show-stack-traces), with a hint when the account lacks tokens.
 */
function run<A extends CommonArgs>(
  body: (args: A, hre: HardhatRuntimeEnvironment) => Promise<void>,
): (args: A, hre: HardhatRuntimeEnvironment) => Promise<void> {
  return async (args, hre) => {
    try {
      await body(args, hre);
    } catch (err) {
      const message = (err as Error).message.split("\n")[0];
      const hint = /ERC20Insufficient(Balance|Allowance)/.test(message)
        ? " (give the account tokens: npx hardhat rm fund --accounts N --network localhost)"
        : "";
      throw new HardhatPluginError("repair-market", `${message}${hint}`, err as Error);
    }
  };
}

/** Comma-separated decimal ids. */
function ids(list: string | undefined): bigint[] {
  if (!list) return [];
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (!/^\d+$/.test(s)) throw new Error(`not a decimal id: "${s}"`);
      return BigInt(s);
    });
}

common(rm.task("providers", "list registered storage providers with their asks")).setAction(
  run(async (args: CommonArgs, hre) => {
    const s = await connect(hre, args);
    const { listProviders } = await import("../actors-ts/chain/registry/reads");
    const providers = await listProviders(s.clients, s.contracts);
    print(
      args,
      providers.map((p) => ({
        address: p.address,
        endpoint: p.endpoint,
        storagePricePerBytePerEpoch: p.storageAsk.pricePerBytePerEpoch,
        minPieceSize: p.storageAsk.minPieceSize,
        maxPieceSize: p.storageAsk.maxPieceSize,
        collateralPerByte: p.storageAsk.collateralPerByte,
        retrievalPricePerByte: p.retrievalAsk.pricePerByte,
      })),
    );
  }),
);

common(
  rm
    .task("register-provider", "register (or update) the signing account as a storage provider with its asks")
    .addParam("endpoint", "HTTP URL clients reach the provider at", undefined, types.string)
    .addOptionalParam("price", "storage price, token base units per padded byte per epoch", "1", types.string)
    .addOptionalParam("minSize", "smallest padded piece accepted, bytes", "128", types.string)
    .addOptionalParam("maxSize", "largest padded piece accepted, bytes", (1n << 34n).toString(), types.string)
    .addOptionalParam("collateral", "collateral per padded byte, token base units", "1", types.string)
    .addOptionalParam("retrievalPrice", "retrieval price, token base units per byte", "1", types.string)
    .addOptionalParam("intervalBytes", "bytes served per payment interval", (1n << 20n).toString(), types.string),
).setAction(
  run(
    async (
      args: CommonArgs & {
        endpoint: string;
        price: string;
        minSize: string;
        maxSize: string;
        collateral: string;
        retrievalPrice: string;
        intervalBytes: string;
      },
      hre,
    ) => {
      const s = await connect(hre, args);
      const { registerProvider } = await import("../actors-ts/chain/registry/register");
      const r = await registerProvider(s.clients, s.contracts, args.endpoint, {
        storageAsk: {
          pricePerBytePerEpoch: BigInt(args.price),
          minPieceSize: BigInt(args.minSize),
          maxPieceSize: BigInt(args.maxSize),
          collateralPerByte: BigInt(args.collateral),
        },
        retrievalAsk: {
          pricePerByte: BigInt(args.retrievalPrice),
          paymentIntervalBytes: BigInt(args.intervalBytes),
          paymentIntervalIncreaseBytes: BigInt(args.intervalBytes),
        },
      });
      print(args, { provider: s.clients.account.address, updated: r.updated, tx: r.hash });
    },
  ),
);

/** The repair miner whose worker is `worker`, or undefined. */
async function minerOf(s: Session, worker: Address): Promise<bigint | undefined> {
  const { repairMinerOfWorker } = await import("../actors-ts/chain/repair-market/reads");
  return repairMinerOfWorker(s.clients, s.contracts, worker, BigInt(s.deployment.deployBlock));
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
        size: pieceSize * BigInt(args.k + args.m),
        durationEpochs: BigInt(args.duration),
        expiryEpoch: head + BigInt(args.validity),
        codingParams: { k: args.k, m: args.m, pieceSize },
      });
      print(args, { bidId: r.bidId, locked: r.amount, tx: r.hash });
    },
  ),
);

/** Published storage deals from the DealPublished events, optionally by client or provider. */
async function publishedDeals(s: Session, filter: { client?: Address; provider?: Address }) {
  const { storageMarketAbi } = await import("../actors-ts/chain/generated/abis");
  const events = await s.clients.public.getContractEvents({
    address: s.contracts.storageMarket,
    abi: storageMarketAbi,
    eventName: "DealPublished",
    args: filter,
    fromBlock: BigInt(s.deployment.deployBlock),
  });
  return events.map((e) => ({
    dealId: e.args.dealId as bigint,
    proposal: e.args.proposal as NonNullable<typeof e.args.proposal>,
  }));
}

common(
  rm
    .task("deals", "list published storage deals with their state")
    .addOptionalParam("client", "only deals of this client", undefined, types.string)
    .addOptionalParam("provider", "only deals with this provider", undefined, types.string),
).setAction(
  run(async (args: CommonArgs & { client?: string; provider?: string }, hre) => {
    const s = await connect(hre, args);
    const { dealInfo } = await import("../actors-ts/chain/storage-market/reads");
    const deals = await publishedDeals(s, { client: args.client as Address, provider: args.provider as Address });
    const rows = [];
    for (const d of deals) {
      rows.push({
        dealId: d.dealId,
        state: (await dealInfo(s.clients, s.contracts, d.dealId)).stateName,
        client: d.proposal.client,
        provider: d.proposal.provider,
        pieceCid: d.proposal.pieceCid,
        pieceSize: d.proposal.pieceSize,
        startEpoch: d.proposal.startEpoch,
        endEpoch: d.proposal.endEpoch,
      });
    }
    print(args, rows);
  }),
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
    .task("settle", "settle storage deals (StorageMarket.settleDeals): pays providers for proven epochs")
    .addOptionalParam(
      "deals",
      "comma-separated storage deal ids (default: every deal of --provider)",
      undefined,
      types.string,
    )
    .addOptionalParam(
      "provider",
      "settle every open deal of this provider (default: the signing account)",
      undefined,
      types.string,
    ),
).setAction(
  run(async (args: CommonArgs & { deals?: string; provider?: string }, hre) => {
    const s = await connect(hre, args);
    const { settleDeals } = await import("../actors-ts/chain/storage-market/settle-deals");
    const { storageMarketAbi } = await import("../actors-ts/chain/generated/abis");
    const { dealInfo } = await import("../actors-ts/chain/storage-market/reads");
    const wanted = ids(args.deals);
    const all = await publishedDeals(
      s,
      wanted.length ? {} : { provider: (args.provider ?? s.clients.account.address) as Address },
    );
    const chosen = wanted.length ? all.filter((d) => wanted.includes(d.dealId)) : all;
    const missing = wanted.filter((id) => !chosen.some((d) => d.dealId === id));
    if (missing.length) throw new Error(`no published storage deal ${missing.join(", ")}`);
    const open = [];
    for (const d of chosen) {
      const state = (await dealInfo(s.clients, s.contracts, d.dealId)).stateName;
      if (state === "Expired") continue; // closed
      if (state === "Terminated") {
        // A terminated deal may be closed already or still await its last settlement.
        const stillOpen = await s.clients.public
          .simulateContract({
            account: s.clients.account,
            address: s.contracts.storageMarket,
            abi: storageMarketAbi,
            functionName: "settleDeals",
            args: [[d.dealId], [d.proposal]],
          })
          .then(
            () => true,
            () => false,
          );
        if (!stillOpen) continue;
      }
      open.push(d);
    }
    if (open.length === 0) {
      print(args, [], "no open deals to settle");
      return;
    }
    const r = await settleDeals(s.clients, s.contracts, open);
    print(
      args,
      r.settled.map((d) => ({ dealId: d.dealId, payment: d.payment, closed: d.closed ?? "", tx: r.hash })),
    );
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
    const { repairMarketAbi } = await import("../actors-ts/chain/generated/abis");
    let dealIds = ids(args.deals);
    if (dealIds.length === 0) {
      const minerId = args.miner !== undefined ? ids(args.miner)[0] : await minerOf(s, s.clients.account.address);
      if (minerId === undefined)
        throw new Error(`${s.clients.account.address} runs no repair miner; pass --miner or --deals`);
      const created = await s.clients.public.getContractEvents({
        address: s.contracts.repairMarket,
        abi: repairMarketAbi,
        eventName: "RepairDealCreated",
        args: { minerId },
        fromBlock: BigInt(s.deployment.deployBlock),
      });
      dealIds = created.map((e) => e.args.dealId as bigint);
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

common(
  rm
    .task("fund", "send payment tokens from the signing account (account 0 holds the devnet supply)")
    .addOptionalParam("accounts", "comma-separated Hardhat dev account indices to fund", undefined, types.string)
    .addOptionalParam("to", "comma-separated addresses to fund", undefined, types.string)
    .addOptionalParam("amount", "token base units each", (10n ** 24n).toString(), types.string),
).setAction(
  run(async (args: CommonArgs & { accounts?: string; to?: string; amount: string }, hre) => {
    const s = await connect(hre, args);
    const { devAddress } = await import("../scripts/lib/agents");
    const { paymentTokenAbi } = await import("../actors-ts/chain/generated/abis");
    const { sendContract } = await import("../actors-ts/chain/send");
    const { isAddress } = await import("viem");
    const targets: Address[] = [
      ...ids(args.accounts).map((n) => devAddress(Number(n))),
      ...(args.to ?? "")
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean)
        .map((a) => {
          if (!isAddress(a)) throw new Error(`--to: not an address: "${a}"`);
          return a;
        }),
    ];
    if (targets.length === 0) throw new Error("name who to fund: --accounts 1,2 or --to 0x…");
    const rows = [];
    for (const to of targets) {
      const sent = await sendContract(s.clients, {
        contract: "PaymentToken",
        address: s.contracts.token,
        abi: paymentTokenAbi,
        functionName: "transfer",
        args: [to, BigInt(args.amount)],
      });
      rows.push({ to, amount: BigInt(args.amount), tx: sent.hash });
    }
    print(args, rows);
  }),
);
