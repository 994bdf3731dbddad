import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, getAddress, http, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Devnet } from "../helpers/devnet";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { repairMarketAbi, storageMarketAbi } from "../../actors-ts/chain/generated/abis";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import { DEAL_STATES } from "../../actors-ts/chain/constants";
import { addBalance } from "../../actors-ts/chain/storage-market/add-balance";
import type { RepairDealStatusResponse } from "../../actors-ts/protocol/repair-api";

// Issue 17 (a): a provider that accepts a placement, takes the bytes and signs, but never
// publishes. The repair miner publishes the provider-signed deal itself; the provider then proves
// it, or misses its periods and the miner re-places the piece. Either way the piece ends up
// placed and confirmed on chain, and the file comes back byte for byte.

const PERIOD = 12; // proving period, epochs (500 ms blocks, mined by a ChainPacer: about 6 s)
const LAZY = 2;
/** Honest providers: two take the other pieces, one is the spare for a re-placement. */
const HONEST = [3, 4, 5];
const MINER = 12;
const CLIENT = 1;
const READER = 13;
const PIECES = [0, 1, 2]; // k = 2, m = 1

describe("repair miner vs a provider that never publishes (issue 17a)", function () {
  this.timeout(300_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let pacer: ChainPacer;
  let dir: string;
  let deployment: Deployment;
  const providers = new Map<number, DaemonProcess>();
  let miner: DaemonProcess;
  const chain = () => createPublicClient({ transport: http(devnet.rpcUrl) });
  const market = () => deployment.contracts.StorageMarket as Address;

  function providerArgs(n: number, extra: string[] = []): string[] {
    return [
      ...["--port", "0", "--data-dir", join(dir, `provider-${n}`), "--key", devKey(n), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--prove-interval-ms", "1000", "--publish-interval-ms", "500"],
      ...["--settle-interval-ms", "60000", "--scrub-interval-ms", "600000", "--redeem-interval-ms", "60000"],
      ...extra,
    ];
  }

  const slot = (dealId: string, index: number) =>
    chain().readContract({
      address: deployment.contracts.RepairMarket as Address,
      abi: repairMarketAbi,
      functionName: "pieceSlot",
      args: [BigInt(dealId), BigInt(index)],
    });

  const dealInfo = (id: bigint) =>
    chain().readContract({ address: market(), abi: storageMarketAbi, functionName: "dealInfo", args: [id] });

  async function status(dealId: string): Promise<RepairDealStatusResponse> {
    return (await (await fetch(`${miner.url}/repair/deals/${dealId}`)).json()) as RepairDealStatusResponse;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-repair-lazy-"));
    devnet = await startPacedDevnet(500);
    pacer = devnet.pacer;
    deployment = await deployTo(
      devnet,
      join(dir, "deployments"),
      { provingPeriodEpochs: PERIOD, challengeWindowEpochs: PERIOD / 2 },
      { repairWindowEpochs: 200, placementWindowEpochs: 200 },
    );
    await fundTokens(
      devnet,
      deployment,
      [CLIENT, MINER, READER, LAZY, ...HONEST].map((n) => devAddress(n)),
      10n ** 24n,
    );
    // The lazy provider's operator keeps collateral in escrow: an acceptance is only as good as that.
    const lazyClients = await connectChain(devnet.rpcUrl, privateKeyToAccount(devKey(LAZY)));
    await addBalance(lazyClients, contractsOf(deployment), devAddress(LAZY), 10n ** 18n);
    pacer.setMarket(market());
    // The lazy provider is not waited for: its periods may pass unproven.
    pacer.watch(...HONEST.map((n) => devAddress(n)));
    // The miner trusts the lazy provider most, so it surely gets a piece.
    await writeFile(join(dir, "miner.json"), JSON.stringify({ reputation: { [devAddress(LAZY)]: 0.99 } }));
    const started = await Promise.all([
      startDaemon("provider", providerArgs(LAZY, ["--fault", "never-publish"])),
      ...HONEST.map((n) => startDaemon("provider", providerArgs(n))),
    ]);
    [LAZY, ...HONEST].forEach((n, i) => providers.set(n, started[i]));
    miner = await startDaemon("repair", [
      ...["--port", "0", "--data-dir", join(dir, "miner"), "--key", devKey(MINER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--config", join(dir, "miner.json")],
      ...["--watch-interval-ms", "1000", "--work-interval-ms", "200", "--confirmations", "1"],
      ...["--claim-interval-ms", "60000", "--settle-interval-ms", "60000", "--self-publish-after-ms", "1000"],
    ]);
  });

  after(async () => {
    await miner?.stop();
    await Promise.all([...providers.values()].map((p) => p.stop()));
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the miner publishes the lazy provider's signed deal itself; the piece ends up placed and confirmed either way", async () => {
    const file = randomBytes(200_000 + 333);
    await writeFile(join(dir, "file.bin"), file);
    const from = await chain().getBlockNumber();
    const r = await runCli([
      ...["client", "store", join(dir, "file.bin"), "--repair", "--k", "2", "--m", "1", "--miner", devAddress(MINER)],
      ...["--key", devKey(CLIENT), "--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const { droot, dealId } = JSON.parse(r.stdout) as { droot: Hex; dealId: string };

    // 1. The lazy provider's storage deal goes on chain, published by the miner's worker.
    const lazyDeal = await waitFor(
      "the lazy provider's storage deal to be published",
      90_000,
      async () => {
        const events = await chain().getContractEvents({
          address: market(),
          abi: storageMarketAbi,
          eventName: "DealPublished",
          args: { client: devAddress(MINER), provider: devAddress(LAZY) },
          fromBlock: from,
        });
        return events[0];
      },
      () => miner.output(),
    );
    const storageDealId = lazyDeal.args.dealId as bigint;
    const tx = await chain().getTransaction({ hash: lazyDeal.transactionHash });
    expect(getAddress(tx.from), "the publisher of the lazy provider's deal").to.equal(getAddress(devAddress(MINER)));
    expect(getAddress((await dealInfo(storageDealId)).provider)).to.equal(getAddress(devAddress(LAZY)));
    // The miner logs its own publish once the receipt is in, a moment after the event is visible.
    await waitFor("the miner to log its publish", 30_000, async () =>
      miner.output().includes("published the deal with its acceptance") ? true : undefined,
    );
    expect(providers.get(LAZY)?.output()).to.not.include('"msg":"deal published"');
    const lazyIndex = await waitFor("the lazy provider's piece to be assigned on chain", 60_000, async () => {
      const slots = await Promise.all(PIECES.map((i) => slot(dealId, i)));
      const i = slots.findIndex((s) => s.storageDealId === storageDealId);
      return i >= 0 ? i : undefined;
    });
    expect(getAddress((await slot(dealId, lazyIndex)).provider)).to.equal(getAddress(devAddress(LAZY)));

    // 2. Every slot ends confirmed: by the lazy provider's proofs, or after its re-placement.
    await waitFor(
      "every piece slot confirmed on chain",
      180_000,
      async () => {
        const slots = await Promise.all(PIECES.map((i) => slot(dealId, i)));
        return slots.every((s) => s.confirmed && s.lostAtEpoch === 0n) ? true : undefined;
      },
      () => miner.output(),
    );
    const lazySlot = await slot(dealId, lazyIndex);
    const lazyState = DEAL_STATES[(await dealInfo(storageDealId)).state];
    if (lazySlot.storageDealId === storageDealId) {
      // The provider proved the deal the miner published for it.
      expect(getAddress(lazySlot.provider)).to.equal(getAddress(devAddress(LAZY)));
      expect(lazyState).to.equal("Active");
    } else {
      // It missed its periods: its deal faulted, the loss was repaired and placed elsewhere.
      expect(["Faulted", "Terminated"]).to.include(lazyState);
      expect(getAddress(lazySlot.provider)).to.not.equal(getAddress(devAddress(LAZY)));
      const s = await status(dealId);
      const job = s.repairs.find((j) => j.indices.includes(lazyIndex));
      expect(job, JSON.stringify(s.repairs)).to.not.equal(undefined);
      expect(job?.status).to.equal("done");
      const slots = await Promise.all(PIECES.map((i) => slot(dealId, i)));
      expect(new Set(slots.map((x) => getAddress(x.provider))).size, "distinct holders").to.equal(3);
      console.log(
        `      the lazy provider's deal ${lazyState}; piece ${lazyIndex} re-placed with ${lazySlot.provider}`,
      );
    }

    // 3. The file comes back byte for byte, paid, from the providers.
    const out = join(dir, "retrieved.bin");
    const back = await runCli([
      ...["client", "retrieve", droot, "--out", out, "--key", devKey(READER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--data-dir", join(dir, "reader"), "--json"],
    ]);
    expect(back.code, back.stderr + back.stdout).to.equal(0);
    expect(sha256(await readFile(out))).to.equal(sha256(file));
    expect(pacer.timedOutHolds).to.deep.equal([]);
  });
});

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
