import { join } from "node:path";
import { getAddress, toHex, type Address } from "viem";
import { deployTo, devAddress, fundTokens } from "../agents";
import type { Deployment } from "../../../actors-ts/chain/deployment";
import { startPacedDevnet, type ChainPacer } from "../../../test/helpers/chain-pacer";
import { startTcpRelay, type TcpRelay } from "../../../test/helpers/tcp-relay";
import type { Devnet } from "../devnet";
import { providerAccountIndex, ROLE_ACCOUNT } from "./fleet";

/**
 * The soak's chain: a `hardhat node` mined by a {@link ChainPacer} (a block every `blockMs`, except
 * that a healthy provider's proof window never closes while its proof is on the way — the chain
 * waits for a live provider on a busy machine, not for a broken one), the contracts, tokens and
 * gas for every account, and a TCP relay the agents reach the chain through, so the soak can cut
 * them off without stopping the chain.
 */
export interface SoakChain {
  devnet: Devnet & { pacer: ChainPacer };
  deployment: Deployment;
  deploymentDir: string;
  /** The agents' way to the chain. */
  relay: TcpRelay;
  /** Every account the soak funds: roles and providers. */
  accounts: Address[];
  stop(): Promise<void>;
}

/** What {@link startSoakChain} deploys. */
export interface SoakChainPlan {
  runDir: string;
  blockMs: number;
  provingPeriodEpochs: number;
  /** RepairMarket's repair and placement windows. */
  windowEpochs: number;
  providerCount: number;
}

/** Native currency (wei) given to dev accounts beyond Hardhat's twenty. */
const EXTRA_ACCOUNT_WEI = 10n ** 22n;
/** Tokens every agent account gets, base units. */
const TOKENS_EACH = 10n ** 24n;

/** Starts the paced devnet, deploys, funds the accounts and opens the relay. */
export async function startSoakChain(plan: SoakChainPlan): Promise<SoakChain> {
  const devnet = await startPacedDevnet(plan.blockMs);
  try {
    const deploymentDir = join(plan.runDir, "deployments");
    const deployment = await deployTo(
      devnet,
      deploymentDir,
      {
        provingPeriodEpochs: plan.provingPeriodEpochs,
        challengeWindowEpochs: Math.max(4, Math.floor(plan.provingPeriodEpochs / 2)),
      },
      { repairWindowEpochs: plan.windowEpochs, placementWindowEpochs: plan.windowEpochs },
    );
    devnet.pacer.setMarket(getAddress(deployment.contracts.StorageMarket));
    const indexes = [
      ROLE_ACCOUNT.client,
      ROLE_ACCOUNT.reader,
      ROLE_ACCOUNT.miner,
      ROLE_ACCOUNT.dealbot,
      ...Array.from({ length: plan.providerCount }, (_, i) => providerAccountIndex(i)),
    ];
    // Hardhat's node funds accounts 0 … 19; the others get gas here.
    for (const index of indexes.filter((i) => i >= 20)) {
      await rpc(devnet.rpcUrl, "hardhat_setBalance", [devAddress(index), toHex(EXTRA_ACCOUNT_WEI)]);
    }
    const accounts = indexes.map((i) => getAddress(devAddress(i)));
    await fundTokens(devnet, deployment, accounts, TOKENS_EACH);
    const relay = await startTcpRelay(devnet.port);
    return {
      devnet,
      deployment,
      deploymentDir,
      relay,
      accounts: [getAddress(devAddress(ROLE_ACCOUNT.deployer)), ...accounts],
      async stop() {
        await relay.close();
        await devnet.stop();
      },
    };
  } catch (err) {
    await devnet.stop();
    throw err;
  }
}

/** One JSON-RPC call straight to the node. */
async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}
