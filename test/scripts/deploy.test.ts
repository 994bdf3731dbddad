import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Devnet, runHardhat, startDevnet } from "../helpers/devnet";
import { readDeployment } from "../../actors-ts/chain/deployment";
import { superviseSuiteProcesses } from "../helpers/process-logs";

async function rpc<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result: T };
  return body.result;
}

describe("scripts/deploy.ts against a hardhat node", function () {
  this.timeout(180_000);
  superviseSuiteProcesses();
  let devnet: Devnet;
  let dir: string;

  before(async () => {
    devnet = await startDevnet();
    dir = await mkdtemp(join(tmpdir(), "deploy-"));
  });

  after(async () => {
    await devnet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("deploys every contract and writes deployments/<chainId>.json", async () => {
    const output = await runHardhat(["run", "scripts/deploy.ts", "--network", "localhost"], {
      RPC_URL: devnet.rpcUrl,
      DEPLOYMENTS_DIR: dir,
      MARKET_PARAMS: JSON.stringify({ provingPeriodEpochs: 12, challengeWindowEpochs: 4 }),
      REPAIR_PARAMS: JSON.stringify({ repairWindowEpochs: 33 }),
      SETTLE_DELAY_EPOCHS: "7",
    });
    expect(output).to.match(/StorageMarket\s+0x[0-9a-fA-F]{40}/);
    const deployment = readDeployment(31337, dir);
    expect(deployment.chainId).to.equal(31337);
    expect(deployment.marketParams.provingPeriodEpochs).to.equal("12");
    expect(deployment.marketParams.challengeWindowEpochs).to.equal("4");
    expect(deployment.repairParams.repairWindowEpochs).to.equal("33");
    expect(deployment.settleDelayEpochs).to.equal("7");
    expect(Object.keys(deployment.contracts).sort()).to.deep.equal([
      "PaymentChannels",
      "PaymentToken",
      "ProviderRegistry",
      "RepairMarket",
      "StorageMarket",
    ]);
    for (const address of Object.values(deployment.contracts)) {
      const code = await rpc<string>(devnet.rpcUrl, "eth_getCode", [address, "latest"]);
      expect(code.length, `code at ${address}`).to.be.greaterThan(2);
    }
    const raw = JSON.parse(await readFile(join(dir, "31337.json"), "utf8"));
    expect(raw.deployBlock).to.be.a("number").and.greaterThan(0);
  });

  it("refuses unknown market parameters", async () => {
    let failure: Error | undefined;
    try {
      await runHardhat(["run", "scripts/deploy.ts", "--network", "localhost"], {
        RPC_URL: devnet.rpcUrl,
        DEPLOYMENTS_DIR: dir,
        MARKET_PARAMS: JSON.stringify({ provingPeriod: 12 }),
      });
    } catch (err) {
      failure = err as Error;
    }
    expect(failure?.message).to.match(/unknown market parameter "provingPeriod"/);
  });
});
