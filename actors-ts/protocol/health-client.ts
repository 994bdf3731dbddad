import { httpJson } from "../core/http-client";
import { HEALTH_PATH, healthResponseSchema, type HealthResponse } from "./health-api";

/**
 * GET /healthz of any daemon (provider, repair miner, dealbot controller): its answer whether it
 * is well (200) or not (503, same shape with `ok: false` and a `reason`).
 *
 * @param daemonUrl The daemon's base URL.
 * @param timeoutMs Wait for the answer's headers, ms (default 5 s).
 * @throws PeerUnreachableError when the daemon does not answer; PeerRejectedError for any other
 *   status, or `InvalidResponse` when the body is not the health shape.
 * @example
 * const health = await getHealth("http://127.0.0.1:7100");
 * if (health.halted) console.log(health.halted.reason);
 */
export function getHealth(daemonUrl: string, timeoutMs = 5_000): Promise<HealthResponse> {
  return httpJson(
    { method: "GET", url: daemonUrl + HEALTH_PATH, headersTimeoutMs: timeoutMs, answerStatuses: [503] },
    { peer: daemonUrl, stage: "health" },
    healthResponseSchema,
  );
}
