import { expect } from "chai";
import { ethers, network } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import pino from "pino";
import { custom, defineChain, type EIP1193RequestFn, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { chainClients, type ChainClients } from "../../../actors-ts/chain/clients";
import { ChainGuard, startChainGuard } from "../../../actors-ts/chain/chain-guard";
import {
  ChainHaltedError,
  DeploymentMissingError,
  readAnchor,
  type DeploymentRef,
} from "../../../actors-ts/chain/chain-identity";
import {
  ChainDivergedError,
  advanceCheckpoint,
  readCheckpoint,
  type CheckpointStore,
} from "../../../actors-ts/chain/checkpoint";
import { devKey } from "../../helpers/agents";
import { waitFor } from "../../helpers/wait";

/** An agent's `kv` table, in memory. */
function memoryStore(): CheckpointStore & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return { entries, get: (k) => entries.get(k), set: (k, v) => void entries.set(k, v) };
}

/** A logger that keeps its JSON lines. */
function capturingLogger(): { logger: pino.Logger; lines: () => { level: number; msg: string }[] } {
  const raw: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void raw.push(line) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

/**
 * viem clients over the in-process Hardhat network; `down.on` makes every request fail as an
 * unreachable endpoint does.
 */
async function inProcessClients(down: { on: boolean } = { on: false }): Promise<ChainClients> {
  const id = Number((await ethers.provider.getNetwork()).chainId);
  const chain = defineChain({
    id,
    name: "hardhat-in-process",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: ["http://127.0.0.1:8545/v3/secret-key"] } },
  });
  const request = (async (args: { method: string; params?: unknown[] }) => {
    if (down.on) throw new Error("request to http://127.0.0.1:8545/v3/secret-key failed: connect ECONNREFUSED");
    return network.provider.request(args);
  }) as EIP1193RequestFn;
  return chainClients({
    chain,
    transport: custom({ request }, { retryCount: 0 }),
    account: privateKeyToAccount(devKey(4)),
    pollingIntervalMs: 20,
    cacheTimeMs: 0,
  });
}

/** Deploys a token and names it as the deployment's contracts (all the guard checks is their code). */
async function deployOne(): Promise<DeploymentRef & { deployBlockHash?: string }> {
  const token = await ethers.deployContract("PaymentToken", ["T", "T", 1000n]);
  const receipt = await token.deploymentTransaction()?.wait();
  if (!receipt) throw new Error("no deployment receipt");
  const address = await token.getAddress();
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  return { chainId, deployBlock: receipt.blockNumber, contracts: { StorageMarket: address, PaymentToken: address } };
}

async function blockHashAt(n: number): Promise<Hex> {
  const block = await ethers.provider.getBlock(n);
  if (!block?.hash) throw new Error(`no block ${n}`);
  return block.hash as Hex;
}

/** What the guard throws, or undefined when it starts. */
async function startError(guard: ChainGuard): Promise<Error | undefined> {
  return guard.start().then(
    () => undefined,
    (err: Error) => err,
  );
}

describe("ChainGuard: the chain must keep the deployment and the data dir's checkpoint", () => {
  it("records the deployment block's hash on first start when the file has none, and keeps checking it", async () => {
    const deployment = await deployOne();
    const store = memoryStore();
    const { logger } = capturingLogger();
    const guard = new ChainGuard({ clients: await inProcessClients(), logger, store }, { deployment });
    const anchor = await guard.start();
    expect(anchor?.source).to.equal("data dir");
    expect(anchor?.hash).to.equal(await blockHashAt(deployment.deployBlock));
    expect(readAnchor(store)?.hash).to.equal(anchor?.hash);
    expect(readCheckpoint(store), "the checkpoint moved forward").to.not.equal(undefined);
    await mine(3);
    await guard.check();
    const status = guard.status();
    expect(status.rpcReachable).to.equal(true);
    expect(status.halted).to.equal(undefined);
    expect(status.deployment?.present).to.equal(true);
    expect(status.head?.number).to.equal(BigInt(await ethers.provider.getBlockNumber()));
    // A file that names the same hash agrees with the data dir's record.
    const again = new ChainGuard(
      { clients: await inProcessClients(), logger, store },
      { deployment: { ...deployment, deployBlockHash: anchor?.hash } },
    );
    expect((await again.start())?.source).to.equal("deployment file");
  });

  it("refuses to start when the file's deployBlockHash is not the chain's block, naming block and hash", async () => {
    const deployment = await deployOne();
    const wrong = `0x${"ab".repeat(32)}`;
    const guard = new ChainGuard(
      { clients: await inProcessClients(), logger: capturingLogger().logger, store: memoryStore() },
      { deployment: { ...deployment, deployBlockHash: wrong } },
    );
    const err = await startError(guard);
    expect(err).to.be.instanceOf(DeploymentMissingError);
    expect((err as DeploymentMissingError).shortMessage).to.equal(
      `the chain at http://127.0.0.1:8545 no longer has the deployment from block ${deployment.deployBlock} ` +
        `(hash ${wrong}): another block is there, so it was reset or is another chain`,
    );
    expect(String((err as DeploymentMissingError).details.hint)).to.include("new --data-dir");
    // The endpoint's path (where hosted endpoints keep their key) is not in the message.
    expect((err as Error).message).to.not.include("secret-key");
  });

  it("refuses a data dir made with another deployment", async () => {
    const first = await deployOne();
    const second = await deployOne();
    const store = memoryStore();
    const logger = capturingLogger().logger;
    await new ChainGuard({ clients: await inProcessClients(), logger, store }, { deployment: first }).start();
    const err = await startError(
      new ChainGuard({ clients: await inProcessClients(), logger, store }, { deployment: second }),
    );
    expect(err).to.be.instanceOf(ChainDivergedError);
    expect((err as ChainDivergedError).shortMessage).to.match(
      new RegExp(`^this data dir was made with the deployment from block ${first.deployBlock} `),
    );
  });

  it("a data dir from before the guard, on a chain reset and redeployed at the same addresses: refused, nothing adopted", async () => {
    const snapshot = (await network.provider.send("evm_snapshot", [])) as string;
    const old = await deployOne();
    await mine(20); // past CHECKPOINT_DEPTH_BLOCKS: the checkpoint lands after the deployment
    const clients = await inProcessClients();
    // What an agent's data dir held before it recorded anchors: only the checkpoint.
    const store = memoryStore();
    await advanceCheckpoint(clients, store);
    await network.provider.send("evm_revert", [snapshot]);
    const redeployed = await deployOne();
    expect(redeployed.contracts.StorageMarket).to.equal(old.contracts.StorageMarket);
    expect(redeployed.deployBlock).to.equal(old.deployBlock);
    const err = await startError(
      new ChainGuard({ clients, logger: capturingLogger().logger, store }, { deployment: redeployed }),
    );
    expect(err).to.be.instanceOf(ChainDivergedError);
    expect((err as ChainDivergedError).shortMessage).to.match(/behind block \d+ that this data dir already saw/);
    expect(readAnchor(store), "the reset chain's block is not recorded as the deployment's").to.equal(undefined);
  });

  it("a chain reset under it: halts with one log line, refuses transactions and loop rounds, and a new start fails", async () => {
    const snapshot = (await network.provider.send("evm_snapshot", [])) as string;
    const deployment = await deployOne();
    const clients = await inProcessClients();
    const { logger, lines } = capturingLogger();
    const { chainGuard, loops } = await startChainGuard(
      { clients, logger, store: memoryStore(), reader: clients.public },
      { deployment },
    );
    expect(loops.pauseReason()).to.equal(undefined);
    // The chain goes back to before the deployment (a devnet restarted empty), then mines on past it.
    await network.provider.send("evm_revert", [snapshot]);
    await chainGuard.check();
    const halted = chainGuard.status().halted;
    expect(halted?.kind).to.equal("deployment-missing");
    expect(halted?.reason).to.match(
      new RegExp(`no longer has the deployment from block ${deployment.deployBlock} \\(hash 0x[0-9a-f]{64}\\)`),
    );
    expect(chainGuard.status().deployment?.present).to.equal(false);
    await mine(deployment.deployBlock + 5 - (await ethers.provider.getBlockNumber()));
    for (let i = 0; i < 3; i++) await chainGuard.check();
    expect(chainGuard.status().halted?.kind).to.equal("deployment-replaced");
    const haltLines = lines().filter((l) => l.msg.includes("halted"));
    expect(haltLines.length, "one line for the reset, however often it is seen").to.equal(1);
    expect(haltLines[0]?.level).to.equal(50);
    expect(loops.pauseReason()).to.equal(chainGuard.halted()?.reason);
    // No transaction goes out: the send queue asks the guard first.
    let sent = false;
    const refused = await clients.queue
      .run(async () => {
        sent = true;
      })
      .catch((err: unknown) => err);
    expect(refused).to.be.instanceOf(ChainHaltedError);
    expect(sent).to.equal(false);
    // Loops skip their rounds while halted.
    const controller = new AbortController();
    let ticks = 0;
    const loop = loops.run(
      "worker",
      5,
      controller.signal,
      async () => void ticks++,
      () => undefined,
    );
    await waitFor("three skipped rounds", 10_000, async () =>
      (loops.snapshot().worker?.skippedRounds ?? 0) >= 3 ? true : undefined,
    );
    controller.abort();
    await loop;
    expect(ticks).to.equal(0);
    // A new start on the reset chain says so, instead of failing later on a contract call.
    const err = await startError(
      new ChainGuard({ clients: await inProcessClients(), logger, store: memoryStore() }, { deployment }),
    );
    expect(err).to.be.instanceOf(DeploymentMissingError);
    expect((err as Error).message).to.match(/no contract at StorageMarket .* it was reset/);
  });

  it("a reorganisation past the checkpoint that leaves the deployment: a warning, no halt, the checkpoint re-anchored", async () => {
    const deployment = await deployOne();
    const store = memoryStore();
    const { logger, lines } = capturingLogger();
    const guard = new ChainGuard({ clients: await inProcessClients(), logger, store }, { deployment });
    await guard.start();
    await mine(30);
    const snapshot = (await network.provider.send("evm_snapshot", [])) as string;
    await mine(20);
    await guard.check();
    const before = readCheckpoint(store);
    expect(before && before.blockNumber > BigInt(deployment.deployBlock) + 30n).to.equal(true);
    // Twenty blocks replaced by others (a new timestamp interval gives them other hashes).
    await network.provider.send("evm_revert", [snapshot]);
    await network.provider.send("hardhat_mine", ["0x19", "0x5"]);
    await guard.check();
    expect(guard.status().halted).to.equal(undefined);
    expect(lines().filter((l) => l.msg.includes("re-anchoring")).length).to.equal(1);
    const after = readCheckpoint(store);
    expect(after?.blockHash).to.equal(await blockHashAt(Number(after?.blockNumber)));
    expect(after?.blockHash).to.not.equal(before?.blockHash);
    await mine(1);
    await guard.check();
    expect(guard.status().halted).to.equal(undefined);
    expect(lines().filter((l) => l.msg.includes("re-anchoring")).length).to.equal(1);
  });

  it("an endpoint that stops answering: not halted, loops paused, one warning; recovers when it answers", async () => {
    const deployment = await deployOne();
    const down = { on: false };
    const clients = await inProcessClients(down);
    const { logger, lines } = capturingLogger();
    const { chainGuard, loops } = await startChainGuard(
      { clients, logger, store: memoryStore(), reader: clients.public },
      { deployment },
    );
    down.on = true;
    for (let i = 0; i < 3; i++) await chainGuard.check().catch(() => undefined);
    const status = chainGuard.status();
    expect(status.rpcReachable).to.equal(false);
    expect(status.halted).to.equal(undefined);
    expect(status.rpcError).to.include("ECONNREFUSED");
    expect(status.rpcError).to.not.include("secret-key");
    expect(loops.pauseReason()).to.match(/JSON-RPC endpoint http:\/\/127\.0\.0\.1:8545 does not answer/);
    down.on = false;
    await chainGuard.check();
    expect(chainGuard.status().rpcReachable).to.equal(true);
    expect(loops.pauseReason()).to.equal(undefined);
    const messages = lines().map((l) => l.msg);
    expect(messages.filter((m) => m.includes("does not answer"))).to.have.length(1);
    expect(messages.filter((m) => m.includes("answers again"))).to.have.length(1);
  });
});
