import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zeroAddress, type Address } from "viem";
import { inProcessClients } from "../../helpers/in-process-clients";

export { inProcessClients };
import { ClientStore } from "../../../actors-ts/client/client-store";
import { DEFAULT_STAGE_LIMITS, type BotDeps } from "../../../actors-ts/dealbot/bots";
import { DealbotController, type ControllerConfig } from "../../../actors-ts/dealbot/controller";
import type { DealbotRecord } from "../../../actors-ts/dealbot/record";
import { silentLogger } from "../../../actors-ts/core/logger";

/** A controller on the in-process chain with its own temporary directory; no scheduled bots. */
export interface TestController {
  controller: DealbotController;
  url: string;
  deps: BotDeps;
  close(): Promise<void>;
}

/**
 * Starts a `DealbotController` reading StorageMarket `storageMarket` (the other contracts are
 * unused: no bot runs), listening on 127.0.0.1 port 0, with `overrides` over the settings.
 */
export async function startTestController(
  storageMarket: Address,
  overrides: Partial<ControllerConfig>,
): Promise<TestController> {
  const dir = await mkdtemp(join(tmpdir(), "rm-dealbot-controller-"));
  const deps: BotDeps = {
    clients: await inProcessClients(0),
    contracts: {
      token: zeroAddress,
      registry: zeroAddress,
      storageMarket,
      repairMarket: zeroAddress,
      paymentChannels: zeroAddress,
    },
    store: new ClientStore(join(dir, "client.sqlite")),
    workDir: join(dir, "work"),
    limits: DEFAULT_STAGE_LIMITS,
  };
  const fail = async (err: unknown): Promise<never> => {
    deps.store.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  };
  let controller: DealbotController;
  try {
    controller = new DealbotController(
      {
        host: "127.0.0.1",
        port: 0,
        dbPath: join(dir, "controller.sqlite"),
        storageIntervalMs: 0,
        retrievalIntervalMs: 0,
        sizes: [1024],
        maxProviderLabels: 10,
        provingSyncIntervalMs: 0,
        // The in-process chain: its clients' URL is a placeholder, so the chain checks read through them.
        chainReader: deps.clients.public,
        ...overrides,
      },
      deps,
      silentLogger,
    );
  } catch (err) {
    return fail(err);
  }
  const { url } = await controller.start();
  return {
    controller,
    url,
    deps,
    close: async () => {
      await controller.stop();
      deps.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A minimal record of one attempt that started at `atMs` (ms since the epoch). */
export function attempt(
  kind: DealbotRecord["kind"],
  provider: string,
  status: DealbotRecord["status"],
  atMs: number,
): DealbotRecord {
  return {
    kind,
    status,
    ...(status === "failure" ? { failedAt: kind === "storage" ? "propose" : "transfer", errorMessage: "refused" } : {}),
    eventList: [],
    tailLog: "",
    dealParameters: { provider },
    paid: "0",
    bytesTransferred: 0,
    timings: { totalMs: 10 },
    stageMs: {},
    softwareVersion: "test",
    chain: { chainId: 31337, clientVersion: "test" },
    datetime: new Date(atMs).toISOString(),
  };
}
