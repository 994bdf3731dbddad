import { BaseError, type Hex } from "viem";
import { RepairMarketError } from "../core/errors";
import type { Logger } from "../core/logger";
import { LoopHealth } from "../core/loop-health";
import { advanceCheckpoint, type ChainMismatch, type ChainMismatchKind, type CheckpointStore } from "./checkpoint";
import {
  ChainHaltedError,
  anchorMismatch,
  mismatchError,
  observeChain,
  recordAnchor,
  resolveAnchor,
  type ChainHead,
  type ChainReader,
  type DeploymentAnchor,
  type DeploymentRef,
} from "./chain-identity";
import { probeClient, type ChainClients } from "./clients";

/** Default of {@link ChainGuardInit.checkIntervalMs}, ms. */
export const DEFAULT_CHAIN_CHECK_INTERVAL_MS = 15_000;
/** While the endpoint does not answer, it is asked again this often (at most), ms. */
const UNREACHABLE_RECHECK_MS = 2_000;

/** The guard's dependencies. */
export interface ChainGuardComponents {
  /** The agent's clients: chain id and RPC URL, the checkpoint, and the send queue the guard gates. */
  clients: ChainClients;
  /** Reads for the checks: fails fast when the endpoint is down (default `clients.public`). */
  reader?: ChainReader;
  logger: Logger;
  /** The agent's `kv`: the deployment's anchor and the data dir's checkpoint (absent: no data dir). */
  store?: CheckpointStore;
}

/** The guard's settings. */
export interface ChainGuardInit {
  /** The deployment the chain must keep; without one only the chain id (and checkpoint) is checked. */
  deployment?: DeploymentRef;
  /** Named in messages (and the error hints). */
  dataDir?: string;
  /** How often the chain is checked, ms (default 15,000). */
  checkIntervalMs?: number;
  /** Move the data dir's checkpoint forward after every good check (default true with a store). */
  advanceCheckpoint?: boolean;
}

/** Why an agent stopped acting. `since` in ms since the epoch. */
export interface HaltState {
  kind: ChainMismatchKind;
  /** What changed and what to do, one line. */
  reason: string;
  since: number;
}

/** What the guard knows of the chain, for health reports. Times in ms since the epoch. */
export interface ChainGuardStatus {
  chainId: number;
  /** The endpoint, scheme, host and port only ({@link rpcEndpointName}). */
  rpcEndpoint: string;
  rpcReachable: boolean;
  /** The head at the last check that got an answer. */
  head?: ChainHead;
  checkedAt?: number;
  /** Why the endpoint did not answer (first line), while it does not. */
  rpcError?: string;
  deployment?: { block: bigint; hash: Hex; source: DeploymentAnchor["source"]; present: boolean };
  halted?: HaltState;
}

/**
 * Keeps an agent on its chain (issue "Real chains and real networks"). At start it resolves the
 * deployment's anchor ({@link resolveAnchor}) and the data dir's checkpoint, refusing a chain
 * that lacks them; then, every `checkIntervalMs`, it checks the chain id, the deployment's block
 * and the checkpoint again (a few cheap reads). On a mismatch the agent is **halted**: its loops
 * skip their rounds (the `LoopHealth` gate), its send queue refuses every transaction (checked
 * again just before each send), and one error line says what changed and what to do — logged
 * again only when the reason changes. A later check that finds the chain whole again resumes it.
 * An endpoint that does not answer pauses the loops too (one warning), until it answers.
 *
 * @example
 * const guard = new ChainGuard({ clients, logger, store }, { deployment, dataDir });
 * await guard.start(); // throws DeploymentMissingError on a reset chain
 * loops.setGate(() => guard.pauseReason());
 * void guard.run(signal, loops);
 */
export class ChainGuard {
  private anchor: DeploymentAnchor | undefined;
  private haltState: HaltState | undefined;
  private head: ChainHead | undefined;
  private checkedAt: number | undefined;
  private unreachable: { since: number; error: string } | undefined;
  private present = true;
  private readonly reader: ChainReader;
  private readonly rpcName: string;
  private readonly checkIntervalMs: number;

  constructor(
    private readonly c: ChainGuardComponents,
    private readonly init: ChainGuardInit,
  ) {
    this.reader = c.reader ?? c.clients.public;
    this.rpcName = rpcEndpointName(c.clients.chain.rpcUrls.default.http[0] ?? "");
    this.checkIntervalMs = init.checkIntervalMs ?? DEFAULT_CHAIN_CHECK_INTERVAL_MS;
  }

  /**
   * Checks the chain before the agent acts: the deployment's anchor, the data dir's checkpoint;
   * then gates the agent's send queue on it.
   *
   * @returns The anchor (block, hash and where the hash came from); undefined without a deployment.
   * @throws DeploymentMissingError (the chain was reset: it lacks the deployment's block, has
   * another block there, or has no code at a contract), ChainDivergedError (another chain id, a
   * data dir made with another deployment, a chain behind or off the data dir's checkpoint),
   * RpcUnavailableError.
   */
  async start(): Promise<DeploymentAnchor | undefined> {
    const context = this.context();
    const { deployment } = this.init;
    // At start the agent's own patient client reads (every retry of a flaky endpoint): a start
    // should not fail on one 503. The periodic checks use the fast-failing reader.
    const reader = this.c.clients.public;
    const anchor = deployment ? await resolveAnchor(reader, deployment, this.c.store, context) : undefined;
    this.anchor = anchor;
    const observed = await observeChain(reader, this.expected(), context);
    if (observed.mismatch) throw mismatchError(observed.mismatch);
    if (anchor && this.c.store) recordAnchor(this.c.store, anchor);
    this.head = observed.head;
    this.checkedAt = Date.now();
    await this.advance();
    this.c.clients.queue.setGuard(() => this.beforeTransaction());
    return anchor;
  }

  /**
   * Checks the chain every `checkIntervalMs` (every 2 s while the endpoint does not answer) until
   * `signal` aborts, as loop "chain" of `loops` (never skipped by the gate it decides).
   */
  run(signal: AbortSignal, loops: LoopHealth): Promise<void> {
    const interval = (): number =>
      this.unreachable ? Math.min(this.checkIntervalMs, UNREACHABLE_RECHECK_MS) : this.checkIntervalMs;
    // Failures are logged by `check` when the state changes, not per round.
    return loops.run(
      "chain",
      interval,
      signal,
      () => this.check(),
      () => undefined,
      { ungated: true },
    );
  }

  /**
   * One check: halts on a mismatch, resumes when the chain is whole again, notes an endpoint
   * that does not answer.
   *
   * @throws The RPC error when the endpoint does not answer (after noting it).
   */
  async check(): Promise<void> {
    let observed;
    try {
      observed = await observeChain(this.reader, this.expected(), this.context());
    } catch (err) {
      this.noteUnreachable(err);
      throw err;
    }
    this.noteReachable();
    this.head = observed.head;
    this.checkedAt = Date.now();
    if (observed.mismatch?.kind === "checkpoint-replaced" && !this.haltState) {
      // The deployment's block is intact and the chain is not behind the checkpoint: blocks after
      // the deployment were reorganised, which loops that read the chain handle themselves (the
      // watcher rewinds to blocks still there). The checkpoint moves to the new chain.
      this.c.logger.warn(
        { ...jsonDetails(observed.mismatch.details) },
        "the chain reorganised past the data dir's checkpoint; re-anchoring it on the current chain",
      );
      if (this.c.store) await advanceCheckpoint(this.c.clients, this.c.store, { replace: true });
      return;
    }
    if (observed.mismatch) {
      this.halt(observed.mismatch);
      return;
    }
    this.present = true;
    if (this.haltState) {
      this.c.logger.info({ was: this.haltState.reason }, "the chain has the deployment again; resuming");
      this.haltState = undefined;
    }
    await this.advance();
  }

  /**
   * Called by the send queue before every transaction: refuses while halted, and checks the
   * deployment's block once more (one read, through the agent's own patient client, so a passing
   * RPC hiccup fails no more sends than before), halting at once if it is gone.
   *
   * @throws ChainHaltedError naming the reason; viem's RPC errors.
   */
  async beforeTransaction(): Promise<void> {
    const anchor = this.anchor;
    if (!this.haltState && anchor) {
      const mismatch = await anchorMismatch(this.c.clients.public, anchor, undefined, this.context());
      if (mismatch) this.halt(mismatch);
    }
    if (this.haltState) {
      throw new ChainHaltedError(`no transaction sent: ${this.haltState.reason}`, {
        details: { kind: this.haltState.kind, since: new Date(this.haltState.since).toISOString() },
      });
    }
  }

  /** Why the agent must not act now (halted, or the endpoint does not answer), or undefined. */
  pauseReason(): string | undefined {
    if (this.haltState) return this.haltState.reason;
    if (this.unreachable)
      return `the chain's JSON-RPC endpoint ${this.rpcName} does not answer: ${this.unreachable.error}`;
    return undefined;
  }

  /** The halt in force, if any. */
  halted(): HaltState | undefined {
    return this.haltState ? { ...this.haltState } : undefined;
  }

  /** What the guard knows of the chain now. */
  status(): ChainGuardStatus {
    const anchor = this.anchor;
    return {
      chainId: this.c.clients.chain.id,
      rpcEndpoint: this.rpcName,
      rpcReachable: this.unreachable === undefined,
      head: this.head,
      checkedAt: this.checkedAt,
      rpcError: this.unreachable?.error,
      deployment: anchor && { block: anchor.block, hash: anchor.hash, source: anchor.source, present: this.present },
      halted: this.halted(),
    };
  }

  private halt(mismatch: ChainMismatch): void {
    const reason = `${mismatch.message} — ${mismatch.details.hint}`;
    if (mismatch.kind.startsWith("deployment-") || mismatch.kind === "contract-missing") this.present = false;
    const known = this.haltState;
    this.haltState = { kind: mismatch.kind, reason, since: known?.since ?? Date.now() };
    // One line per reason: the deployment going missing and then being replaced by other blocks
    // (a reset chain that mines on) is the same reason.
    if (known && reasonClass(known.kind) === reasonClass(mismatch.kind)) return;
    this.c.logger.error(
      { ...jsonDetails(mismatch.details), kind: mismatch.kind },
      `halted, no transactions, proofs or repairs until this is fixed: ${reason}`,
    );
  }

  private noteUnreachable(err: unknown): void {
    // The endpoint's full URL may carry an API key: messages name it by origin only.
    const fullUrl = this.c.clients.chain.rpcUrls.default.http[0] ?? this.rpcName;
    const error = errorLine(err).split(fullUrl).join(this.rpcName);
    if (this.unreachable) {
      this.unreachable.error = error;
      return;
    }
    this.unreachable = { since: Date.now(), error };
    this.c.logger.warn(
      { rpcUrl: this.rpcName, err: error },
      "the chain's JSON-RPC endpoint does not answer; loops paused until it does",
    );
  }

  private noteReachable(): void {
    if (!this.unreachable) return;
    const downMs = Date.now() - this.unreachable.since;
    this.unreachable = undefined;
    this.c.logger.info({ rpcUrl: this.rpcName, downMs }, "the chain's JSON-RPC endpoint answers again");
  }

  private async advance(): Promise<void> {
    if (!this.c.store || this.init.advanceCheckpoint === false) return;
    await advanceCheckpoint(this.c.clients, this.c.store);
  }

  private expected(): { chainId: number; anchor?: DeploymentAnchor; store?: CheckpointStore } {
    return { chainId: this.c.clients.chain.id, anchor: this.anchor, store: this.c.store };
  }

  private context(): { rpcUrl: string; dataDir?: string } {
    return { rpcUrl: this.rpcName, dataDir: this.init.dataDir };
  }
}

/**
 * An agent's chain guard, started (reading through `c.reader`, default a fast-failing
 * {@link probeClient}), and its loop registry, gated on it: what a daemon makes before anything
 * reads the contracts, so a reset chain is named as such — not as `NotMinerOwner` or a call that
 * "returned no data".
 *
 * @throws What {@link ChainGuard.start} throws.
 */
export async function startChainGuard(
  c: ChainGuardComponents,
  init: ChainGuardInit,
): Promise<{ chainGuard: ChainGuard; loops: LoopHealth }> {
  const chainGuard = new ChainGuard({ ...c, reader: c.reader ?? probeClient(c.clients.chain) }, init);
  await chainGuard.start();
  const loops = new LoopHealth();
  loops.setGate(() => chainGuard.pauseReason());
  return { chainGuard, loops };
}

/**
 * An RPC URL as messages and health reports show it: scheme, host and port only, since hosted
 * endpoints carry their API key in the path or query.
 */
export function rpcEndpointName(rpcUrl: string): string {
  try {
    return new URL(rpcUrl).origin;
  } catch {
    return "(invalid RPC URL)";
  }
}

/**
 * One line for an RPC failure: the transport's own error when viem wrapped it (RpcUnavailableError
 * inside an UnknownRpcError), else viem's short message and the first line of its details.
 */
function errorLine(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof RepairMarketError) return e.shortMessage;
  }
  const first = (text: string): string => (text.split("\n")[0] ?? "").slice(0, 300);
  if (err instanceof BaseError) return err.details ? `${err.shortMessage} (${first(err.details)})` : err.shortMessage;
  return first(err instanceof Error ? err.message : String(err));
}

/** Kinds that are one reason for logging. */
function reasonClass(kind: ChainMismatchKind): string {
  return kind.startsWith("deployment-") || kind === "contract-missing" ? "deployment" : kind;
}

function jsonDetails(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
}

/** The head's age, ms (now − its timestamp), or undefined before the first answer. */
export function headAgeMs(head: ChainHead | undefined, now = Date.now()): number | undefined {
  return head === undefined ? undefined : Math.max(0, now - head.timestampMs);
}
