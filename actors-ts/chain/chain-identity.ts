import { BlockNotFoundError, getAddress, type Chain, type Hex, type PublicClient, type Transport } from "viem";
import { RepairMarketError } from "../core/errors";
import {
  ChainDivergedError,
  checkpointMismatch,
  readCheckpoint,
  type ChainMismatch,
  type CheckpointStore,
  type MismatchContext,
} from "./checkpoint";

/**
 * Which chain an agent is on (issue "Real chains and real networks"): the chain id and the
 * deployment's block — its number from the deployment file, its hash from the file
 * (`deployBlockHash`) or, for files without one, recorded in the agent's own `kv` on its first
 * start. A chain that lacks that block, or has another block at that height, is not the chain the
 * contracts were deployed on: it was reset (a devnet restarted empty keeps the same addresses,
 * so nothing else tells), or the endpoint serves another chain.
 */

/** The chain no longer has the deployment the agent works with (reset, or another chain). */
export class DeploymentMissingError extends RepairMarketError {
  override name = "DeploymentMissingError" as const;
}

/** The agent is halted: it found the chain changed under it and refuses to act until it is back. */
export class ChainHaltedError extends RepairMarketError {
  override name = "ChainHaltedError" as const;
}

/** What the identity check needs of a deployment file (`Deployment` is one). */
export interface DeploymentRef {
  chainId: number;
  /** Block the contracts were deployed in (first block of their events). */
  deployBlock: number;
  /** That block's hash, 0x + 64 hex digits; absent in files written before it was recorded. */
  deployBlockHash?: string;
  /** Contract addresses by name (must include StorageMarket). */
  contracts: Record<string, string>;
}

/** The block a deployment is anchored to, and where its hash came from. */
export interface DeploymentAnchor {
  chainId: number;
  /** Block number (epoch) of the deployment. */
  block: bigint;
  hash: Hex;
  source: "deployment file" | "data dir";
  /** The deployment's StorageMarket address (names the deployment). */
  storageMarket: string;
}

/** The chain head as read by one check. */
export interface ChainHead {
  number: bigint;
  hash: Hex;
  /** The block's timestamp, ms since the epoch. */
  timestampMs: number;
}

/** What one identity check saw. */
export interface IdentityObservation {
  chainId: number;
  head: ChainHead;
  /** Set when the chain is not the deployment's (or the data dir's) any more. */
  mismatch?: ChainMismatch;
}

/** Reads with which the checks are made (a public client with the chain set). */
export type ChainReader = PublicClient<Transport, Chain>;

const ANCHOR_KEY = "chain.deployment";

const RESET_HINT =
  "redeploy (npx hardhat run scripts/deploy.ts, or npm run devnet) and start the agents with a new --data-dir";

/** The error to throw for a mismatch: DeploymentMissingError or ChainDivergedError. */
export function mismatchError(mismatch: ChainMismatch): DeploymentMissingError | ChainDivergedError {
  const options = { details: mismatch.details };
  return mismatch.kind.startsWith("deployment-") || mismatch.kind === "contract-missing"
    ? new DeploymentMissingError(mismatch.message, options)
    : new ChainDivergedError(mismatch.message, options);
}

/** The chain's head: number, hash and time. @throws viem's RPC errors. */
export async function readHead(reader: ChainReader): Promise<ChainHead> {
  const block = await reader.getBlock({ blockTag: "latest" });
  return {
    number: block.number,
    hash: block.hash,
    timestampMs: Number(block.timestamp) * 1000,
  };
}

/**
 * Compares the deployment's block with the chain: the chain must reach it and have the same hash
 * there. One `eth_getBlockByNumber`. The message does not change as the chain moves (the head is
 * in `details`), so a daemon logs it once.
 *
 * @param head The chain's head block number, when known (else the block's absence tells).
 * @returns The mismatch (`deployment-missing`, `deployment-replaced`), or undefined.
 * @throws viem's RPC errors.
 */
export async function anchorMismatch(
  reader: ChainReader,
  anchor: DeploymentAnchor,
  head: bigint | undefined,
  context: MismatchContext,
): Promise<ChainMismatch | undefined> {
  const lead = `the chain at ${context.rpcUrl} no longer has the deployment from block ${anchor.block} (hash ${anchor.hash})`;
  const details = {
    rpcUrl: context.rpcUrl,
    dataDir: context.dataDir,
    deployBlock: anchor.block,
    deployBlockHash: anchor.hash,
    hashFrom: anchor.source,
    head,
    hint: RESET_HINT,
  };
  const hash = head !== undefined && head < anchor.block ? undefined : await blockHash(reader, anchor.block);
  if (hash === undefined) {
    return {
      kind: "deployment-missing",
      message: `${lead}: it has not reached that block, so it was reset`,
      details,
    };
  }
  if (hash.toLowerCase() === anchor.hash.toLowerCase()) return undefined;
  return {
    kind: "deployment-replaced",
    message: `${lead}: another block is there, so it was reset or is another chain`,
    details: { ...details, chainHash: hash },
  };
}

/**
 * One identity check (cheap: `eth_chainId` and two or three `eth_getBlockByNumber`): the chain
 * id, then the deployment's block (when there is an anchor), then the data dir's checkpoint (when
 * there is one).
 *
 * @param expected.chainId The chain id the agent connected to (and its deployment is for).
 * @throws viem's RPC errors (RpcUnavailableError through `rpcTransport`) when the endpoint does not answer.
 */
export async function observeChain(
  reader: ChainReader,
  expected: { chainId: number; anchor?: DeploymentAnchor; store?: CheckpointStore },
  context: MismatchContext,
): Promise<IdentityObservation> {
  const chainId = await reader.getChainId();
  const head = await readHead(reader);
  const { anchor } = expected;
  if (chainId !== expected.chainId) {
    const mismatch: ChainMismatch = {
      kind: "chain-id",
      message: `the chain at ${context.rpcUrl} has chain id ${chainId}, not ${expected.chainId} it had when the agent started`,
      details: {
        rpcUrl: context.rpcUrl,
        dataDir: context.dataDir,
        hint: `point --rpc at chain ${expected.chainId}, or restart the agent with that chain's deployment file and a new --data-dir`,
      },
    };
    return { chainId, head, mismatch };
  }
  const missing = anchor ? await anchorMismatch(reader, anchor, head.number, context) : undefined;
  if (missing) return { chainId, head, mismatch: missing };
  const checkpoint = expected.store ? readCheckpoint(expected.store) : undefined;
  const diverged = checkpoint ? await checkpointMismatch(reader, checkpoint, head.number, context) : undefined;
  return diverged ? { chainId, head, mismatch: diverged } : { chainId, head };
}

/**
 * The deployment's anchor at an agent's start. The chain must have, at `deployBlock`, the hash
 * this data dir recorded on its first start and the file's `deployBlockHash` (each when there is
 * one; they must agree), and code at every contract of the deployment. Without either hash, the
 * chain's hash of `deployBlock` becomes the anchor, for the caller to record
 * ({@link recordAnchor}) once its other checks pass. Also refuses a data dir made with another
 * deployment.
 *
 * @param store The agent's `kv`, read for the recorded anchor (nothing is written here).
 * @returns The anchor: block, hash, and `source` "deployment file" when the file names the hash.
 * @throws DeploymentMissingError when the chain lacks the deployment's block, has another block
 * there, or has no code at one of its contracts; ChainDivergedError when the data dir was made
 * with another deployment or on another chain; viem's RPC errors.
 */
export async function resolveAnchor(
  reader: ChainReader,
  deployment: DeploymentRef,
  store: CheckpointStore | undefined,
  context: MismatchContext,
): Promise<DeploymentAnchor> {
  const storageMarket = getAddress(deployment.contracts.StorageMarket ?? "");
  const block = BigInt(deployment.deployBlock);
  const recorded = store ? readAnchor(store) : undefined;
  if (recorded && (recorded.block !== block || recorded.storageMarket !== storageMarket)) {
    throw mismatchError(otherDeployment(recorded, block, storageMarket, context));
  }
  const fileHash = deployment.deployBlockHash?.toLowerCase() as Hex | undefined;
  const base = { chainId: deployment.chainId, block, storageMarket };
  const expected = recorded ?? (fileHash ? { ...base, hash: fileHash, source: "deployment file" as const } : undefined);
  if (expected) {
    const mismatch = await anchorMismatch(reader, expected, (await readHead(reader)).number, context);
    if (mismatch) throw mismatchError(mismatch);
    // The chain has what the data dir saw; a file naming another hash is another deployment.
    if (fileHash && fileHash !== expected.hash.toLowerCase()) {
      throw mismatchError(otherDeployment(expected, block, storageMarket, context));
    }
  }
  await assertContractsDeployed(reader, deployment, context);
  const hash = expected?.hash ?? (await blockHash(reader, block));
  if (hash === undefined) {
    throw mismatchError({
      kind: "deployment-missing",
      message: `the chain at ${context.rpcUrl} has no block ${block}, where the deployment file says its contracts are`,
      details: { rpcUrl: context.rpcUrl, dataDir: context.dataDir, deployBlock: block, hint: RESET_HINT },
    });
  }
  return { ...base, hash, source: fileHash ? "deployment file" : "data dir" };
}

/**
 * Every contract of the deployment has code on the chain.
 *
 * @throws DeploymentMissingError naming the first contract without code.
 */
async function assertContractsDeployed(
  reader: ChainReader,
  deployment: DeploymentRef,
  context: MismatchContext,
): Promise<void> {
  for (const [name, address] of Object.entries(deployment.contracts)) {
    const code = await reader.getCode({ address: getAddress(address) });
    if (code === undefined || code === "0x") {
      throw mismatchError({
        kind: "contract-missing",
        message:
          `the chain at ${context.rpcUrl} has no contract at ${name} ${address} of the deployment from block ` +
          `${deployment.deployBlock}: it was reset, or the deployment file is for another chain`,
        details: { rpcUrl: context.rpcUrl, dataDir: context.dataDir, contract: name, address, hint: RESET_HINT },
      });
    }
  }
}

function otherDeployment(
  recorded: { block: bigint; storageMarket: string; hash: Hex },
  block: bigint,
  storageMarket: string,
  context: MismatchContext,
): ChainMismatch {
  return {
    kind: "other-deployment",
    message:
      `this data dir was made with the deployment from block ${recorded.block} (hash ${recorded.hash}, ` +
      `StorageMarket ${recorded.storageMarket}), not the deployment file's (block ${block}, StorageMarket ${storageMarket})`,
    details: {
      rpcUrl: context.rpcUrl,
      dataDir: context.dataDir,
      hint: "start with a new --data-dir, or point --deployment at the file this data dir was made with",
    },
  };
}

/** The hash of block `number`, or undefined when the chain has no such block. */
async function blockHash(reader: ChainReader, number: bigint): Promise<Hex | undefined> {
  try {
    return (await reader.getBlock({ blockNumber: number })).hash;
  } catch (err) {
    if (err instanceof BlockNotFoundError) return undefined;
    throw err;
  }
}

/** The anchor this data dir recorded on its first start, if any. */
export function readAnchor(store: CheckpointStore): DeploymentAnchor | undefined {
  const raw = store.get(ANCHOR_KEY);
  if (!raw) return undefined;
  const parsed = JSON.parse(raw) as { chainId: number; block: string; hash: Hex; storageMarket: string };
  return {
    chainId: parsed.chainId,
    block: BigInt(parsed.block),
    hash: parsed.hash,
    source: "data dir",
    storageMarket: getAddress(parsed.storageMarket),
  };
}

/**
 * Records `anchor` as this data dir's, unless it has one: call it once every start-up check
 * passed, so a data dir never adopts a chain it then refuses.
 */
export function recordAnchor(store: CheckpointStore, anchor: DeploymentAnchor): void {
  if (store.get(ANCHOR_KEY)) return;
  store.set(
    ANCHOR_KEY,
    JSON.stringify({
      chainId: anchor.chainId,
      block: anchor.block.toString(),
      hash: anchor.hash,
      storageMarket: anchor.storageMarket,
    }),
  );
}
