import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { deployTo, devAddress, devKey, fundTokens, startDaemon, type DaemonProcess } from "../helpers/agents";
import { startPacedDevnet, type ChainPacer } from "../helpers/chain-pacer";
import type { Devnet } from "../helpers/devnet";
import { superviseSuiteProcesses } from "../helpers/process-logs";
import { waitFor } from "../helpers/wait";
import { connectChain } from "../../actors-ts/chain/clients";
import { contractsOf } from "../../actors-ts/chain/contracts";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { getAsk } from "../../actors-ts/chain/repair-market/reads";
import { REPAIR_PATHS, repairInfoResponseSchema } from "../../actors-ts/protocol/repair-api";

const MINER = 12;
/** A short ask: renewed once fewer than 20 epochs are left (half its validity). */
const VALIDITY = 40n;

/**
 * A repair miner runs for months while its ask lasts `validityEpochs`: the daemon renews the ask
 * while it runs (not only at start-up), so clients keep finding it.
 */
describe("repair miner: the ask is renewed while the daemon runs", function () {
  this.timeout(180_000);
  superviseSuiteProcesses();
  let devnet: Devnet & { pacer: ChainPacer };
  let dir: string;
  let miner: DaemonProcess | undefined;
  let deployment: Deployment;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-ask-"));
    devnet = await startPacedDevnet(200);
    deployment = await deployTo(devnet, join(dir, "deployments"));
    await fundTokens(devnet, deployment, [devAddress(MINER)], 10n ** 24n);
    await writeFile(join(dir, "miner.json"), JSON.stringify({ ask: { validityEpochs: VALIDITY.toString() } }));
    miner = await startDaemon("repair", [
      ...["--port", "0", "--data-dir", join(dir, "miner"), "--key", devKey(MINER), "--rpc", devnet.rpcUrl],
      ...["--deployment", join(dir, "deployments"), "--config", join(dir, "miner.json")],
      ...["--ask-check-interval-ms", "300", "--watch-interval-ms", "1000"],
    ]);
  });

  after(async () => {
    await miner?.stop();
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("posts a fresh ask once half the old one's validity has passed, and /info names it", async () => {
    const url = (miner as DaemonProcess).url;
    const info = async () => repairInfoResponseSchema.parse(await (await fetch(url + REPAIR_PATHS.info)).json());
    const first = BigInt((await info()).askId);
    const clients = await connectChain(devnet.rpcUrl, privateKeyToAccount(devKey(MINER)));
    const contracts = contractsOf(deployment);
    const firstAsk = await getAsk(clients, contracts, first);
    expect(firstAsk.active).to.equal(true);
    // The chain moves on by itself (a block every 200 ms, from the pacer).
    const renewed = await waitFor(
      "the daemon to post a fresh ask",
      120_000,
      async () => {
        const askId = BigInt((await info()).askId);
        return askId !== first ? askId : undefined;
      },
      () => (miner as DaemonProcess).output(),
    );
    const head = await clients.public.getBlockNumber();
    const ask = await getAsk(clients, contracts, renewed);
    expect(ask.active).to.equal(true);
    expect(ask.minerId).to.equal(firstAsk.minerId);
    expect(ask.expiryEpoch > head, "the fresh ask is still open").to.equal(true);
    // Renewed inside the second half of the old ask's life, not before.
    expect(ask.expiryEpoch - VALIDITY >= firstAsk.expiryEpoch - VALIDITY / 2n).to.equal(true);
    expect((miner as DaemonProcess).output()).to.include("repair ask renewed");
  });
});
