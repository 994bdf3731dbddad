import type { FastifyInstance } from "fastify";
import { sendHealth } from "../core/http-server";
import { SOFTWARE_VERSION } from "../core/version";
import { healthResponse } from "../protocol/health-api";
import { REPAIR_PATHS } from "../protocol/repair-api";
import type { RepairComponents } from "./components";

/**
 * GET health (`protocol/health-api.ts`) of the repair miner: its worker and miner id, the chain
 * as its guard last saw it and every loop's last round, from memory (no RPC call); 503 with the
 * reason when the miner is halted, the endpoint does not answer or a loop keeps failing.
 *
 * @param minerId The miner's id (0 until it is found or created, just after the server listens).
 */
export function registerMinerHealth(
  app: FastifyInstance,
  c: Pick<RepairComponents, "chainGuard" | "clients" | "loops">,
  minerId: () => bigint,
): void {
  app.get(REPAIR_PATHS.health, (_request, reply) =>
    sendHealth(
      reply,
      healthResponse({
        role: "repair-miner",
        version: SOFTWARE_VERSION,
        address: c.clients.account.address,
        minerId: minerId(),
        chain: c.chainGuard.status(),
        loops: c.loops.snapshot(),
        stale: c.loops.stale(),
      }),
    ),
  );
}
