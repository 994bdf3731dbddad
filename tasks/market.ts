/**
 * `npx hardhat rm <task> --network localhost`, storage side (providers, deals, settlement,
 * tokens): poke at a running devnet (`npm run devnet`, or `npx hardhat node` +
 * `scripts/deploy.ts`) without writing code. Every task reads the contract addresses from
 * `deployments/<chainId>.json` (or `--deployment`), signs with one of Hardhat's dev accounts
 * (`--account N`, default 0) or `--key`, and prints a table, or JSON with `--json`. Plumbing,
 * and why agent modules are imported inside the actions, in tasks/lib.ts.
 */
import { types } from "hardhat/config";
import type { Address } from "viem";
import { common, connect, ids, print, rm, run, type CommonArgs, type Session } from "./lib";

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

/**
 * Published storage deals from the DealPublished events, optionally by client or provider: read in
 * ranges, newest first, no further back than the log lookback (2,880 blocks by default; older
 * deals are read by id with `dealInfo`).
 */
async function publishedDeals(s: Session, filter: { client?: Address; provider?: Address }) {
  const { storageMarketAbi } = await import("../actors-ts/chain/generated/abis");
  const { scanNewestFirst } = await import("../actors-ts/chain/log-scan");
  const head = await s.clients.public.getBlockNumber();
  const events = await scanNewestFirst(s.clients, { fromBlock: BigInt(s.deployment.deployBlock), toBlock: head }, (r) =>
    s.clients.public.getContractEvents({
      address: s.contracts.storageMarket,
      abi: storageMarketAbi,
      eventName: "DealPublished",
      args: filter,
      ...r,
    }),
  );
  events.sort((a, b) => ((a.args.dealId ?? 0n) < (b.args.dealId ?? 0n) ? -1 : 1));
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
