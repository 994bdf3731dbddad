import { join } from "node:path";
import type { Command } from "commander";
import { loadAccount } from "../core/keys";
import { createLogger, type Logger } from "../core/logger";
import { connectChain, type ChainClients } from "../chain/clients";
import { contractsOf, type MarketContracts } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { ClientStore } from "../client/client-store";
import { StorageClient } from "../client/storage-client";
import { defaultDataDir, deploymentOption, jsonOption, keyOption, rpcOption, type ChainOptions } from "./common";

/** Options every `repair-market client …` subcommand accepts (see {@link withClientOptions}). */
export interface ClientOptions extends ChainOptions {
  /** The client's directory: client.sqlite, client.log and work/ (default ~/.repair-market/client). */
  dataDir: string;
}

/** A client opened on the chain: what the `client` subcommands work with. */
export interface OpenedClient {
  clients: ChainClients;
  contracts: MarketContracts;
  /** The client's database (<data-dir>/client.sqlite); close it when done. */
  store: ClientStore;
  /** Logs at warn and above to <data-dir>/client.log. */
  logger: Logger;
  client: StorageClient;
  /** Scratch space for erasure coding and retrievals (<data-dir>/work). */
  workDir: string;
}

/** Loads the key, connects to the chain and the deployment, and opens the client's database. */
export async function openClient(opts: ClientOptions): Promise<OpenedClient> {
  const account = loadAccount(opts.key);
  const logger = createLogger("client", "warn", join(opts.dataDir, "client.log"));
  const clients = await connectChain(opts.rpc, account);
  const contracts = contractsOf(loadDeployment(opts.deployment, clients.chain.id));
  const store = new ClientStore(join(opts.dataDir, "client.sqlite"));
  return {
    clients,
    contracts,
    store,
    logger,
    client: new StorageClient({ clients, contracts, store, logger }),
    workDir: join(opts.dataDir, "work"),
  };
}

/** Adds the options every `client` subcommand shares, after its own: --key, --rpc, --deployment, --data-dir, --json. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .addOption(keyOption)
    .addOption(rpcOption)
    .addOption(deploymentOption)
    .option("--data-dir <dir>", "directory for the client's database", defaultDataDir("client"))
    .addOption(jsonOption);
}
