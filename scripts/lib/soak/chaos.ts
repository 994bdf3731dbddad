import { getAddress, type Address, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connectChain } from "../../../actors-ts/chain/clients";
import type { MarketContracts } from "../../../actors-ts/chain/contracts";
import { storageMarketAbi } from "../../../actors-ts/chain/generated/abis";
import { declareFaults } from "../../../actors-ts/chain/storage-market/declare-faults";
import { reportPieceLoss } from "../../../actors-ts/chain/repair-market/actions";
import type { SeededRandom } from "../fault-injection";
import { burstVictims, chooseFault, type FaultChoice, type FaultWeights, type FleetView } from "./chaos-plan";
import { readFileViews, type StoredFile } from "./chain-view";
import { ROLE_ACCOUNT, type Fleet, type ProviderSlot } from "./fleet";
import { devKey } from "../agents";
import type { FaultRecord } from "./report";

/**
 * The chaos phase: for `periods` proving periods, every few periods (drawn from the seed) one
 * fault from the menu, on a provider chosen so that no file has more than m pieces at risk at
 * once; providers killed for a while come back on their data dirs. Paced by the chain's epochs,
 * bounded in wall time.
 */
export interface ChaosPlan {
  fleet: Fleet;
  chain: PublicClient;
  /** The chain's RPC URL, straight to the node (the soak's own transactions). */
  rpcUrl: string;
  contracts: MarketContracts;
  files: StoredFile[];
  rng: SeededRandom;
  periods: number;
  provingPeriodEpochs: number;
  /** Mean proving periods between faults. */
  faultEveryPeriods: number;
  weights: FaultWeights;
  /** Most permanent provider faults (kill-forever, wipe, stop-proving) over the run. */
  permanentFaults: number;
  /** Full mode: break m + 1 pieces of one file at once, half-way through. */
  burst: boolean;
  /** The longest the phase may take, ms. */
  timeoutMs: number;
  startMiner(): Promise<void>;
  record(fault: Omit<FaultRecord, "wallSeconds">): void;
}

/** What the chaos phase leaves behind. */
export interface ChaosOutcome {
  startEpoch: number;
  endEpoch: number;
  wallMs: number;
  /** The repair deal broken beyond tolerance on purpose (full mode). */
  burstDealId?: bigint;
}

export async function runChaos(plan: ChaosPlan): Promise<ChaosOutcome> {
  const { fleet, chain, rng } = plan;
  const startedAt = Date.now();
  const head = async () => Number(await chain.getBlockNumber({ cacheTime: 0 }));
  const startEpoch = await head();
  const endEpoch = startEpoch + plan.periods * plan.provingPeriodEpochs;
  const restarts: { atEpoch: number; slot: ProviderSlot }[] = [];
  const doomed = new Set<bigint>();
  let permanentLeft = plan.permanentFaults;
  let burstDealId: bigint | undefined;
  const burstAt = plan.burst ? startEpoch + Math.floor(plan.periods / 2) * plan.provingPeriodEpochs : Infinity;
  const gap = () => rng.integer(1, Math.max(1, 2 * plan.faultEveryPeriods - 1)) * plan.provingPeriodEpochs;
  let nextFaultAt = startEpoch + gap();
  for (;;) {
    if (Date.now() - startedAt > plan.timeoutMs)
      throw new Error(`soak: the chaos phase took more than ${plan.timeoutMs / 1000} s (at epoch ${await head()})`);
    const now = await head();
    for (const r of restarts.filter((x) => x.atEpoch <= now || now >= endEpoch)) {
      restarts.splice(restarts.indexOf(r), 1);
      await fleet.startProvider(r.slot);
      r.slot.condition = "healthy";
      plan.record({
        epoch: await head(),
        kind: "kill-restart",
        provider: r.slot.address,
        note: "restarted on its data dir",
        recovery: true,
      });
    }
    if (now >= endEpoch) break;
    if (now >= burstAt && burstDealId === undefined) {
      burstDealId = await burst(plan, await view(plan, doomed), now);
    } else if (now >= nextFaultAt) {
      const choice = chooseFault(rng, await view(plan, doomed), plan.weights, permanentLeft);
      if (await inject(plan, choice, await head(), doomed, restarts)) permanentLeft--;
      // The next gap counts from when this fault was done (a restart takes a while).
      nextFaultAt = (await head()) + gap();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { startEpoch, endEpoch, wallMs: Date.now() - startedAt, burstDealId };
}

/** The fleet and the files as the tolerance rule sees them. */
async function view(plan: ChaosPlan, doomed: Set<bigint>): Promise<FleetView> {
  const files = await readFileViews({ public: plan.chain as never }, plan.contracts, plan.files);
  return {
    providers: plan.fleet.providers.map((p) => ({ address: p.address, condition: p.condition })),
    files,
    doomedStorageDeals: doomed,
  };
}

/** Does `choice`; returns whether it was a permanent provider fault. */
async function inject(
  plan: ChaosPlan,
  choice: FaultChoice,
  epoch: number,
  doomed: Set<bigint>,
  restarts: { atEpoch: number; slot: ProviderSlot }[],
): Promise<boolean> {
  const { fleet, rng } = plan;
  const record = (note: string) => plan.record({ epoch, kind: choice.kind, provider: choice.provider, note });
  if (choice.kind === "miner-restart") {
    await fleet.killMiner();
    record("repair miner SIGKILLed");
    await new Promise((r) => setTimeout(r, rng.integer(500, 3000)));
    await plan.startMiner();
    plan.record({
      epoch: Number(await plan.chain.getBlockNumber({ cacheTime: 0 })),
      kind: "miner-restart",
      note: "repair miner restarted on its data dir",
      recovery: true,
    });
    return false;
  }
  if (choice.kind === "chain-outage") {
    const ms = rng.integer(2000, 6000);
    record(`agents cut off the chain for ${ms} ms`);
    await fleet.chainOutage(ms);
    return false;
  }
  const slot = fleet.slot(choice.provider as Address);
  const holdings = (await view(plan, doomed)).files.flatMap((f) =>
    f.slots.filter((s) => getAddress(s.provider) === slot.address).map((s) => s.storageDealId),
  );
  switch (choice.kind) {
    case "kill-restart": {
      await fleet.killProvider(slot);
      slot.condition = "down";
      const periods = rng.integer(1, 3);
      restarts.push({ atEpoch: epoch + periods * plan.provingPeriodEpochs, slot });
      record(`SIGKILL; back on its data dir in ${periods} period(s)`);
      return false;
    }
    case "kill-forever":
      await fleet.killProvider(slot);
      slot.condition = "gone";
      record("SIGKILL, never restarted");
      return true;
    case "wipe":
      await fleet.killProvider(slot);
      await fleet.wipe(slot);
      for (const id of holdings) doomed.add(id);
      record(`SIGKILL, data dir deleted, restarted empty (${holdings.length} pieces gone)`);
      await fleet.startProvider(slot);
      return true;
    case "corrupt-reads":
      await fleet.stopProvider(slot);
      await fleet.startProvider(slot, ["corrupt-reads"]);
      slot.condition = "corrupt";
      record("restarted with --fault corrupt-reads (proves, serves corrupted bytes)");
      return false;
    case "stop-proving":
      await fleet.stopProvider(slot);
      await fleet.startProvider(slot, ["stop-proving", "refuse-deals"]);
      slot.condition = "not-proving";
      for (const id of holdings) doomed.add(id);
      record("restarted with --fault stop-proving refuse-deals (serves, never proves)");
      return true;
  }
  return false;
}

/**
 * Beyond tolerance on purpose: with the repair miner down, m + 1 holders of one file declare their
 * pieces of it lost (each stopped for the moment, so the soak's transaction does not race its own),
 * and the soak reports the losses, so the repair deal is lost on chain and the client refunded
 * before the miner, restarted on its data dir, could repair any of them. The providers keep every
 * other piece they hold and restart on their data dirs.
 *
 * @returns The repair deal broken, or undefined when no file had m + 1 healthy holders.
 */
async function burst(plan: ChaosPlan, v: FleetView, epoch: number): Promise<bigint | undefined> {
  const candidates = v.files
    .map((f, i) => ({ f, stored: plan.files[i] }))
    .filter(({ f }) => !f.closed && burstVictims(f, v) !== undefined);
  const target = candidates[plan.rng.integer(0, candidates.length - 1)];
  if (!target) return undefined;
  const victims = burstVictims(target.f, v) as Address[];
  const rpcUrl = plan.rpcUrl;
  // The miner is down meanwhile: it would otherwise repair the first lost piece before the last
  // is declared (each victim is stopped in turn), and the file would never be beyond tolerance.
  await plan.fleet.killMiner();
  try {
    await breakAtOnce(plan, target, victims, rpcUrl);
  } finally {
    await plan.startMiner();
  }
  plan.record({
    epoch,
    kind: "burst",
    note: `${victims.length} holders of ${target.stored.droot.slice(0, 10)}… declared their pieces lost at once (m = ${target.f.m}), the miner down meanwhile`,
  });
  return target.stored.dealId;
}

/** The burst's chain side: each victim declares its pieces of the file faulted, then every loss is reported. */
async function breakAtOnce(
  plan: ChaosPlan,
  target: { f: FleetView["files"][number]; stored: ChaosPlan["files"][number] },
  victims: Address[],
  rpcUrl: string,
): Promise<void> {
  for (const address of victims) {
    const slot = plan.fleet.slot(address);
    const pieces = target.f.slots.filter((s) => getAddress(s.provider) === address);
    await plan.fleet.stopProvider(slot);
    const clients = await connectChain(rpcUrl, privateKeyToAccount(slot.key));
    const deals = [];
    for (const s of pieces) {
      const [published] = await plan.chain.getContractEvents({
        address: plan.contracts.storageMarket,
        abi: storageMarketAbi,
        eventName: "DealPublished",
        args: { dealId: s.storageDealId },
        fromBlock: 0n,
      });
      deals.push({ dealId: s.storageDealId, proposal: published.args.proposal as never });
    }
    // A declaration is refused once the current period's challenge epoch has passed: the next
    // period's is tried after a short wait.
    for (let attempt = 0; ; attempt++) {
      try {
        await declareFaults(clients, plan.contracts, deals);
        break;
      } catch (err) {
        if (attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await plan.fleet.startProvider(slot);
  }
  const reporter = await connectChain(rpcUrl, privateKeyToAccount(devKey(ROLE_ACCOUNT.reader)));
  for (const s of target.f.slots.filter((x) => victims.includes(getAddress(x.provider)))) {
    await reportPieceLoss(reporter, plan.contracts, target.stored.dealId, s.index).catch(() => undefined);
  }
}
