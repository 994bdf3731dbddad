import { z } from "zod";
import type { LoopRecord, StaleLoop } from "../core/loop-health";
import { zAddress, zDecimalString, zHexBytes } from "../core/schemas";

/**
 * `GET /healthz`, one shape for every daemon (provider, repair miner, dealbot controller): is the
 * chain reachable and still the deployment's, where is its head, is the daemon halted, and when
 * did each periodic loop last succeed. 200 when all is well; 503 with the same body and a
 * `reason` when not (the endpoint does not answer, the chain was reset or diverged, a loop has
 * been failing for longer than its bound). Times are ISO 8601, block numbers decimal strings.
 */
export const HEALTH_PATH = "/healthz";

/** The daemons that answer `/healthz`. */
export const HEALTH_ROLES = ["provider", "repair-miner", "dealbot-controller"] as const;
export type HealthRole = (typeof HEALTH_ROLES)[number];

/** One periodic loop: its interval and its last success and failure. */
export const loopHealthSchema = z.object({
  /** ms between rounds. */
  intervalMs: z.number().int().nonnegative(),
  /** End of the last successful round; null before the first. */
  lastSuccessAt: z.string().nullable(),
  /** First line of the last failed round's error, and when. */
  lastError: z.string().optional(),
  lastErrorAt: z.string().optional(),
  /** Rounds failed since the last success. */
  consecutiveFailures: z.number().int().nonnegative(),
  /** Rounds skipped while the daemon must not act (halted, or the chain unreachable). */
  skippedRounds: z.number().int().nonnegative(),
  /** A round is in progress. */
  running: z.boolean(),
});
export type LoopHealthView = z.output<typeof loopHealthSchema>;

/** The chain as the daemon's chain guard last saw it. */
export const chainHealthSchema = z.object({
  chainId: z.number().int().positive(),
  /** The JSON-RPC endpoint: scheme, host and port (a hosted endpoint's key, in its path, is left out). */
  rpcEndpoint: z.string(),
  /** The last check got an answer from the JSON-RPC endpoint. */
  rpcReachable: z.boolean(),
  /** Why it did not, while it does not. */
  rpcError: z.string().optional(),
  /** Head block number at the last answered check; null before one. */
  head: zDecimalString.nullable(),
  /** ms since the head block's timestamp (how far behind the chain's clock the daemon's view is). */
  headAgeMs: z.number().int().nonnegative().nullable(),
  /** When the chain last answered a check. */
  checkedAt: z.string().nullable(),
  /** The deployment's block; null for a daemon started without a deployment to guard. */
  deployment: z
    .object({
      block: zDecimalString,
      hash: zHexBytes(32),
      /** Where the hash came from: the deployment file, or the data dir's record of its first start. */
      hashFrom: z.enum(["deployment file", "data dir"]),
      /** The chain still has that block with that hash (false once it was reset). */
      present: z.boolean(),
    })
    .nullable(),
});

/** GET /healthz */
export const healthResponseSchema = z.object({
  ok: z.boolean(),
  /** Why not ok (every problem, "; "-separated). */
  reason: z.string().optional(),
  role: z.enum(HEALTH_ROLES),
  /** Software version. */
  version: z.string(),
  /** The daemon's account (provider, miner worker, controller's client). */
  address: zAddress.optional(),
  /** The repair miner's id. */
  minerId: zDecimalString.optional(),
  chain: chainHealthSchema,
  /** Set while the daemon refuses to act: what changed and what to do, and since when. */
  halted: z.object({ reason: z.string(), since: z.string() }).optional(),
  loops: z.record(z.string(), loopHealthSchema),
});
export type HealthResponse = z.output<typeof healthResponseSchema>;

/** What a daemon knows of its chain (its chain guard's status; times in ms since the epoch). */
export interface ChainHealthInput {
  chainId: number;
  rpcEndpoint: string;
  rpcReachable: boolean;
  rpcError?: string;
  head?: { number: bigint; timestampMs: number };
  checkedAt?: number;
  deployment?: { block: bigint; hash: string; source: "deployment file" | "data dir"; present: boolean };
  halted?: { reason: string; since: number };
}

/** Everything a `/healthz` answer is made of. */
export interface HealthInput {
  role: HealthRole;
  version: string;
  address?: string;
  minerId?: bigint;
  chain: ChainHealthInput;
  loops: Record<string, LoopRecord>;
  /** Loops failing for longer than their bound (`LoopHealth.stale()`). */
  stale: StaleLoop[];
  /** ms since the epoch (default now). */
  now?: number;
}

/**
 * The `/healthz` answer: 200 and `ok: true`, or 503 with `ok: false` and the reasons (halted,
 * RPC unreachable, stale loops), the body the same shape either way.
 */
export function healthResponse(input: HealthInput): {
  statusCode: 200 | 503;
  body: z.input<typeof healthResponseSchema>;
} {
  const now = input.now ?? Date.now();
  const { chain } = input;
  const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
  const reasons: string[] = [];
  if (chain.halted) reasons.push(`halted: ${chain.halted.reason}`);
  if (!chain.rpcReachable) {
    reasons.push(
      `the chain's JSON-RPC endpoint ${chain.rpcEndpoint} does not answer: ${chain.rpcError ?? "no answer"}`,
    );
  }
  for (const loop of input.stale) {
    const seconds = Math.round(loop.failingForMs / 1000);
    reasons.push(`loop ${loop.name} has not succeeded for ${seconds} s: ${loop.lastError ?? "failing"}`);
  }
  const body: z.input<typeof healthResponseSchema> = {
    ok: reasons.length === 0,
    ...(reasons.length > 0 ? { reason: reasons.join("; ") } : {}),
    role: input.role,
    version: input.version,
    ...(input.address ? { address: input.address } : {}),
    ...(input.minerId !== undefined ? { minerId: input.minerId.toString() } : {}),
    chain: {
      chainId: chain.chainId,
      rpcEndpoint: chain.rpcEndpoint,
      rpcReachable: chain.rpcReachable,
      ...(chain.rpcError !== undefined && !chain.rpcReachable ? { rpcError: chain.rpcError } : {}),
      head: chain.head ? chain.head.number.toString() : null,
      headAgeMs: chain.head ? Math.max(0, Math.round(now - chain.head.timestampMs)) : null,
      checkedAt: iso(chain.checkedAt),
      deployment: chain.deployment
        ? {
            block: chain.deployment.block.toString(),
            hash: chain.deployment.hash,
            hashFrom: chain.deployment.source,
            present: chain.deployment.present,
          }
        : null,
    },
    ...(chain.halted
      ? { halted: { reason: chain.halted.reason, since: new Date(chain.halted.since).toISOString() } }
      : {}),
    loops: Object.fromEntries(Object.entries(input.loops).map(([name, record]) => [name, loopView(record)])),
  };
  return { statusCode: body.ok ? 200 : 503, body };
}

function loopView(record: LoopRecord): z.input<typeof loopHealthSchema> {
  return {
    intervalMs: Math.max(0, Math.round(record.intervalMs)),
    lastSuccessAt: record.lastSuccessAt === undefined ? null : new Date(record.lastSuccessAt).toISOString(),
    ...(record.lastError !== undefined ? { lastError: record.lastError } : {}),
    ...(record.lastErrorAt !== undefined ? { lastErrorAt: new Date(record.lastErrorAt).toISOString() } : {}),
    consecutiveFailures: record.consecutiveFailures,
    skippedRounds: record.skippedRounds,
    running: record.running,
  };
}
