import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, type Address, type Hex } from "viem";
import { deployTo, devAddress, devKey, fundTokens, runCli, startDaemon, type DaemonProcess } from "../helpers/agents";
import { waitFor } from "../helpers/wait";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";
import type { Devnet } from "../helpers/devnet";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { repairMarketAbi, storageMarketAbi } from "../../actors-ts/chain/generated/abis";
import { superviseSuiteProcesses } from "../helpers/process-logs";

const PERIOD = 12; // proving period, epochs (500 ms blocks from a ChainPacer)
const REPAIR_WINDOW = 30; // epochs; an extension must come this long before the deal's end
const PROVIDERS = [2, 3, 4]; // three providers for the three pieces (k = 2, m = 1)
const DECLINER = 4; // refuses every extension: its storage deal runs out at the first end
const SPARE = 5; // registers after placement: a candidate (with the decliner) for the re-placed piece
const MINER = 12;
const CLIENT = 1;
const READER = 13;
const DURATION = 150n; // the repair deal's first term, epochs
const EXTRA = 300n; // epochs the client adds

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("repair renewal: client extend DROOT keeps a repair-backed file past its first end", function () {
  this.timeout(600_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let dir: string;
  let deployment: Deployment;
  const providers: DaemonProcess[] = [];
  let miner: DaemonProcess;
  const chain = () => createPublicClient({ transport: http(devnet.rpcUrl) });
  const chainArgs = () => ["--rpc", devnet.rpcUrl, "--deployment", join(dir, "deployments")];

  const repairDeal = (dealId: bigint) =>
    chain().readContract({
      address: deployment.contracts.RepairMarket as Address,
      abi: repairMarketAbi,
      functionName: "getDeal",
      args: [dealId],
    });
  const storageDealOf = async (dealId: bigint, index: number) => {
    const slot = await chain().readContract({
      address: deployment.contracts.RepairMarket as Address,
      abi: repairMarketAbi,
      functionName: "pieceSlot",
      args: [dealId, BigInt(index)],
    });
    const info = await chain().readContract({
      address: deployment.contracts.StorageMarket as Address,
      abi: storageMarketAbi,
      functionName: "dealInfo",
      args: [slot.storageDealId],
    });
    return { storageDealId: slot.storageDealId, lostAtEpoch: slot.lostAtEpoch, ...info };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-renewal-"));
    devnet = await startPacedDevnet(500);
    deployment = await deployTo(
      devnet,
      join(dir, "deployments"),
      { provingPeriodEpochs: PERIOD, challengeWindowEpochs: PERIOD / 2 },
      { repairWindowEpochs: REPAIR_WINDOW, placementWindowEpochs: 120 },
    );
    await fundTokens(
      devnet,
      deployment,
      [CLIENT, MINER, READER, SPARE, ...PROVIDERS].map((n) => devAddress(n)),
      10n ** 24n,
    );
    devnet.pacer.setMarket(deployment.contracts.StorageMarket as Address);
    devnet.pacer.watch(...[...PROVIDERS, SPARE].map((n) => devAddress(n)));
    providers.push(...(await Promise.all(PROVIDERS.map((n) => startProvider(n)))));
    miner = await startDaemon("repair", [
      ...["--port", "0", "--data-dir", join(dir, "miner"), "--key", devKey(MINER), ...chainArgs()],
      ...["--watch-interval-ms", "1000", "--work-interval-ms", "200", "--confirmations", "1"],
    ]);
  });

  const startProvider = (n: number): Promise<DaemonProcess> =>
    startDaemon("provider", [
      ...["--port", "0", "--data-dir", join(dir, `provider-${n}`), "--key", devKey(n), ...chainArgs()],
      ...["--prove-interval-ms", "1000", "--publish-interval-ms", "500", "--scrub-interval-ms", "600000"],
      ...(n === DECLINER ? ["--fault", "decline-extensions"] : []),
    ]);

  after(async () => {
    await miner?.stop();
    await Promise.all(providers.map((p) => p.stop()));
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("extends the repair deal and every piece's storage deal, re-places the piece whose provider declines, and the file retrieves after the first end", async () => {
    const file = randomBytes(200 * 1024 + 11);
    await writeFile(join(dir, "file.bin"), file);
    const stored = await runCli([
      ...["client", "store", join(dir, "file.bin"), "--repair", "--k", "2", "--m", "1", "--miner", devAddress(MINER)],
      ...["--duration", DURATION.toString(), "--key", devKey(CLIENT), ...chainArgs()],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(stored.code, stored.stderr + stored.stdout).to.equal(0);
    const { droot, dealId: id } = JSON.parse(stored.stdout) as { droot: Hex; dealId: string };
    const dealId = BigInt(id);
    await waitFor(
      "the repair deal to become Active",
      240_000,
      async () => ((await repairDeal(dealId)).state === 2 ? true : undefined),
      () => miner.output(),
    );
    const before = await repairDeal(dealId);
    const slots = await Promise.all([0, 1, 2].map((i) => storageDealOf(dealId, i)));
    const declined = slots.findIndex((d) => d.provider.toLowerCase() === devAddress(DECLINER).toLowerCase());
    expect(declined, "the decliner holds one of the three pieces").to.be.at.least(0);
    const kept = [0, 1, 2].filter((i) => i !== declined);
    // A spare joins after placement: the only provider the declined piece can move to.
    providers.push(await startProvider(SPARE));

    // Someone else cannot extend the client's file (and pays nothing for trying).
    const stranger = await runCli([
      ...["client", "extend", droot, "--duration", EXTRA.toString(), "--key", devKey(READER), ...chainArgs()],
      ...["--data-dir", join(dir, "reader")],
    ]);
    expect(stranger.code).to.equal(1);
    expect(stranger.stderr).to.match(/no open repair deal of 0x[0-9a-fA-F]{40} stores 0x/);

    const extended = await runCli([
      ...["client", "extend", droot, "--duration", EXTRA.toString(), "--key", devKey(CLIENT), ...chainArgs()],
      ...["--data-dir", join(dir, "client"), "--json"],
    ]);
    expect(extended.code, extended.stderr + extended.stdout).to.equal(0);
    const result = JSON.parse(extended.stdout) as { newEndEpoch: string; oldEndEpoch: string; amount: string };
    const after = await repairDeal(dealId);
    expect(BigInt(result.oldEndEpoch)).to.equal(before.endEpoch);
    expect(after.endEpoch).to.equal(before.endEpoch + EXTRA);
    expect(BigInt(result.newEndEpoch)).to.equal(after.endEpoch);
    // The extra term costs what the first one did per epoch: amount / duration · EXTRA.
    expect(after.amount - before.amount).to.equal((before.amount / DURATION) * EXTRA);
    expect(BigInt(result.amount)).to.equal(after.amount - before.amount);

    // The miner carries the extension to every piece whose provider takes it: each of those
    // storage deals now lasts to the new end. The decliner's deal keeps its first end.
    await waitFor(
      "every accepting provider's storage deal to be extended past the repair deal's new end",
      120_000,
      async () => {
        const deals = await Promise.all(kept.map((i) => storageDealOf(dealId, i)));
        return deals.every((d) => d.endEpoch >= after.endEpoch) ? deals : undefined;
      },
      () => miner.output(),
    );
    await waitFor("the miner to log the decliner's refusal", 60_000, async () =>
      /provider did not extend the storage deal/.test(miner.output()) ? true : undefined,
    );
    expect((await storageDealOf(dealId, declined)).endEpoch).to.equal(slots[declined].endEpoch);

    // The declined deal runs out inside the extended term: the miner reports the piece lost and
    // re-places it in a new storage deal that lasts to the new end and is confirmed.
    const replaced = await waitFor(
      `piece ${declined} to be re-placed in a new storage deal and confirmed`,
      300_000,
      async () => {
        const slot = await chain().readContract({
          address: deployment.contracts.RepairMarket as Address,
          abi: repairMarketAbi,
          functionName: "pieceSlot",
          args: [dealId, BigInt(declined)],
        });
        // A new storage deal for the piece, confirmed. Placement ranks the spare and the decliner
        // alike (both unscored, same price; ties at random), and the decliner takes new deals — it
        // only refuses extensions — so either may hold the new one.
        return slot.storageDealId !== slots[declined].storageDealId && slot.confirmed ? slot : undefined;
      },
      () => miner.output(),
    );
    expect(replaced.storageDealId).to.not.equal(slots[declined].storageDealId);
    expect((await storageDealOf(dealId, declined)).endEpoch).to.be.at.least(after.endEpoch);

    // Past the first term (and the storage deals' first end, a period later) the file is still
    // held, proven and retrievable byte for byte.
    const firstStorageEnd = before.endEpoch + BigInt(PERIOD);
    await waitFor("the chain to pass the file's first end", 240_000, async () =>
      (await chain().getBlockNumber()) > firstStorageEnd + 2n ? true : undefined,
    );
    const deals = await Promise.all([0, 1, 2].map((i) => storageDealOf(dealId, i)));
    for (const d of deals) {
      expect(d.state, `storage deal ${d.storageDealId}`).to.equal(2); // Active
      expect(d.lostAtEpoch).to.equal(0n);
    }
    expect((await repairDeal(dealId)).state).to.equal(2);
    const out = join(dir, "retrieved.bin");
    const r = await runCli([
      ...["client", "retrieve", droot, "--out", out, "--key", devKey(READER), ...chainArgs()],
      ...["--data-dir", join(dir, "reader"), "--json"],
    ]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(sha256(await readFile(out))).to.equal(sha256(file));
    // Exactly one repair: the declined piece; the kept pieces were never touched.
    const status = (await (await fetch(`${miner.url}/repair/deals/${dealId}`)).json()) as {
      repairs: { indices: number[] }[];
    };
    expect(status.repairs.map((r) => r.indices)).to.deep.equal([[declined]]);
  });
});
