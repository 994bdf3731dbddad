import { expect } from "chai";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, type Hex } from "viem";
import { type Devnet, runHardhat, spawnHardhat, startDevnet } from "../helpers/devnet";
import { devAddress, devKey } from "../helpers/agents";
import { CONTRACT_NAMES, readDeployment, readDeploymentFile, type Deployment } from "../../actors-ts/chain/deployment";
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

/** The node's block `n`, or null. */
async function blockHash(url: string, n: number): Promise<Hex | undefined> {
  const block = await rpc<{ hash: Hex } | null>(url, "eth_getBlockByNumber", [`0x${n.toString(16)}`, false]);
  return block?.hash;
}

const DEPLOY = ["run", "scripts/deploy.ts", "--network", "localhost"];
const PARAMS_ENV = {
  MARKET_PARAMS: JSON.stringify({ provingPeriodEpochs: 12, challengeWindowEpochs: 4 }),
  REPAIR_PARAMS: JSON.stringify({ repairWindowEpochs: 33 }),
  SETTLE_DELAY_EPOCHS: "7",
};

/** `rm verify-deployment` of `file` on the node: exit code, the lines it printed, stderr. */
async function verify(devnet: Devnet, file: string): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const r = await spawnHardhat(["rm", "verify-deployment", "--deployment", file, "--network", "localhost"], {
    RPC_URL: devnet.rpcUrl,
  });
  return { code: r.code, lines: r.stdout.trim().split("\n"), stderr: r.stderr };
}

describe("scripts/deploy.ts against a hardhat node", function () {
  this.timeout(180_000);
  superviseSuiteProcesses();
  let devnet: Devnet;
  let dir: string;
  let first: Deployment;

  before(async () => {
    // A block every 250 ms besides one per transaction, so a profile's confirmations arrive.
    devnet = await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: "250" });
    dir = await mkdtemp(join(tmpdir(), "deploy-"));
  });

  after(async () => {
    await devnet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("deploys every contract and writes deployments/<chainId>.json with code hashes and the block hash", async () => {
    const output = await runHardhat(DEPLOY, { RPC_URL: devnet.rpcUrl, DEPLOYMENTS_DIR: dir, ...PARAMS_ENV });
    expect(output).to.match(/StorageMarket\s+0x[0-9a-fA-F]{40}/);
    const deployment = readDeployment(31337, dir);
    first = deployment;
    expect(deployment.chainId).to.equal(31337);
    expect(deployment.profile).to.equal("devnet");
    expect(deployment.marketParams.provingPeriodEpochs).to.equal("12");
    expect(deployment.marketParams.challengeWindowEpochs).to.equal("4");
    expect(deployment.marketParams.challengesPerProof).to.equal("5");
    expect(deployment.repairParams.repairWindowEpochs).to.equal("33");
    expect(deployment.settleDelayEpochs).to.equal("7");
    expect(Object.keys(deployment.contracts).sort()).to.deep.equal([...CONTRACT_NAMES].sort());
    expect(deployment.deployBlockHash).to.equal(await blockHash(devnet.rpcUrl, deployment.deployBlock));
    for (const name of CONTRACT_NAMES) {
      const code = await rpc<Hex>(devnet.rpcUrl, "eth_getCode", [deployment.contracts[name], "latest"]);
      expect(code.length, `code of ${name}`).to.be.greaterThan(2);
      expect(deployment.code?.[name]?.codeHash, name).to.equal(keccak256(code));
      expect(deployment.code?.[name]?.artifact, name).to.match(new RegExp(`^contracts/.+\\.sol:${name}$`));
    }
    const raw = JSON.parse(await readFile(join(dir, "31337.json"), "utf8"));
    expect(raw.deployBlock).to.be.a("number").and.greaterThan(0);
  });

  it("refuses unknown market parameters", async () => {
    let failure: Error | undefined;
    try {
      await runHardhat(DEPLOY, {
        RPC_URL: devnet.rpcUrl,
        DEPLOYMENTS_DIR: dir,
        MARKET_PARAMS: JSON.stringify({ provingPeriod: 12 }),
      });
    } catch (err) {
      failure = err as Error;
    }
    expect(failure?.message).to.match(/unknown market parameter "provingPeriod"/);
  });

  it("refuses a profile tuned for another chain unless forced", async () => {
    const r = await spawnHardhat(["rm", "deploy", "--profile", "base-sepolia", "--network", "localhost"], {
      RPC_URL: devnet.rpcUrl,
      DEPLOYMENTS_DIR: join(dir, "refused"),
    });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include("profile base-sepolia is for chain 84532 (2 s epochs) but the RPC serves chain 31337");
    expect(existsSync(join(dir, "refused"))).to.equal(false);
  });

  it("rm deploy signs with DEPLOYER_KEY, builds on PAYMENT_TOKEN and applies overrides to the profile", async () => {
    const out = join(dir, "custom");
    const output = await runHardhat(
      ["rm", "deploy", "--profile", "base-sepolia", "--force", "--out", out, "--network", "custom"],
      {
        RPC_URL: devnet.rpcUrl,
        DEPLOYER_KEY: devKey(3),
        PAYMENT_TOKEN: first.contracts.PaymentToken,
        MARKET_PARAMS: JSON.stringify({ challengesPerProof: 7 }),
      },
    );
    expect(output).to.include("profile base-sepolia");
    const deployment = readDeployment(31337, out);
    expect(deployment.deployer).to.equal(devAddress(3));
    expect(deployment.profile).to.equal("base-sepolia");
    expect(deployment.contracts.PaymentToken).to.equal(first.contracts.PaymentToken);
    expect(deployment.code?.PaymentToken).to.deep.equal({ codeHash: first.code?.PaymentToken?.codeHash });
    expect(deployment.marketParams.provingPeriodEpochs).to.equal("1800");
    expect(deployment.marketParams.challengeWindowEpochs).to.equal("240");
    expect(deployment.marketParams.challengesPerProof).to.equal("7");
    expect(deployment.settleDelayEpochs).to.equal("21600");
    // The profile's 10 confirmations were waited for before the block hash was recorded.
    const head = Number(await rpc<string>(devnet.rpcUrl, "eth_blockNumber", []));
    expect(head).to.be.at.least(deployment.deployBlock + 10);
    const tokenOfMarket = await rpc<Hex>(devnet.rpcUrl, "eth_call", [
      { to: deployment.contracts.StorageMarket, data: "0xfc0c546a" }, // token()
      "latest",
    ]);
    expect(`0x${tokenOfMarket.slice(-40)}`).to.equal(first.contracts.PaymentToken.toLowerCase());
  });

  for (const [what, token, reason] of [
    ["an account", devAddress(7), "has no code: an account, not a token contract"],
    ["a contract that is not a token", () => first.contracts.ProviderRegistry, "does not answer ERC-20 decimals()"],
  ] as const) {
    it(`refuses a PAYMENT_TOKEN that is ${what}, deploying nothing`, async () => {
      const address = typeof token === "function" ? token() : token;
      const out = join(dir, "not-a-token");
      const nonceBefore = await rpc<string>(devnet.rpcUrl, "eth_getTransactionCount", [devAddress(0), "latest"]);
      const r = await spawnHardhat(DEPLOY, { RPC_URL: devnet.rpcUrl, DEPLOYMENTS_DIR: out, PAYMENT_TOKEN: address });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include(`PAYMENT_TOKEN ${address} ${reason}`);
      expect(existsSync(out)).to.equal(false);
      expect(await rpc<string>(devnet.rpcUrl, "eth_getTransactionCount", [devAddress(0), "latest"])).to.equal(
        nonceBefore,
      );
    });
  }

  it("verify-deployment passes on a fresh deployment, one line per contract", async () => {
    const { code, lines } = await verify(devnet, join(dir, "31337.json"));
    expect(code).to.equal(0);
    expect(lines).to.have.length(6);
    expect(lines[0]).to.match(/^ok\s+deployBlock\s+\d+\s+0x[0-9a-f]{64}$/);
    for (const [i, name] of CONTRACT_NAMES.entries()) {
      expect(lines[i + 1]).to.match(new RegExp(`^ok\\s+${name}\\s+0x[0-9a-fA-F]{40} matches contracts/.*:${name}$`));
    }
    const json = await spawnHardhat(
      ["rm", "verify-deployment", "--deployment", dir, "--json", "--network", "localhost"],
      { RPC_URL: devnet.rpcUrl },
    );
    expect(json.code).to.equal(0);
    const rows = JSON.parse(json.stdout) as { subject: string; at: string; ok: boolean }[];
    expect(rows.map((r) => [r.subject, r.ok])).to.deep.equal(
      ["deployBlock", ...CONTRACT_NAMES].map((subject) => [subject, true]),
    );
    expect(rows[3].at).to.equal(first.contracts.StorageMarket);
  });

  it("verify-deployment fails naming StorageMarket when the file points it at RepairMarket's address", async () => {
    const file = join(dir, "swapped.json");
    const swapped = { ...first, contracts: { ...first.contracts, StorageMarket: first.contracts.RepairMarket } };
    await writeFile(file, JSON.stringify(swapped));
    const { code, lines, stderr } = await verify(devnet, file);
    expect(code).to.equal(1);
    const line = lines.find((l) => /^MISMATCH\s+StorageMarket /.test(l));
    expect(line).to.include(`code hash ${first.code?.RepairMarket?.codeHash} is not the recorded`);
    expect(line).to.match(/code is \d+ bytes, contracts\/market\/StorageMarket.sol:StorageMarket is \d+/);
    expect(stderr).to.include("deployment does not match chain 31337: StorageMarket, RepairMarket");
    expect(lines.filter((l) => l.startsWith("ok"))).to.have.length(4);
  });
});

describe("verify-deployment on a chain that was reset", function () {
  this.timeout(180_000);
  superviseSuiteProcesses();
  let devnet: Devnet;
  let dir: string;

  before(async () => {
    devnet = await startDevnet();
    dir = await mkdtemp(join(tmpdir(), "deploy-reset-"));
  });

  after(async () => {
    await devnet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("names every contract when the chain was reset, and the deploy block when the same contracts came back", async () => {
    await runHardhat(DEPLOY, { RPC_URL: devnet.rpcUrl, DEPLOYMENTS_DIR: dir });
    const file = join(dir, "before-reset.json");
    await copyFile(join(dir, "31337.json"), file);
    const before = readDeploymentFile(file);
    expect((await verify(devnet, file)).code).to.equal(0);

    expect(await rpc<boolean>(devnet.rpcUrl, "hardhat_reset", [])).to.equal(true);
    expect(Number(await rpc<string>(devnet.rpcUrl, "eth_blockNumber", []))).to.equal(0);
    const gone = await verify(devnet, file);
    expect(gone.code).to.equal(1);
    expect(gone.lines[0]).to.match(/^MISMATCH\s+deployBlock .*the chain has no block \d+ \(head 0\): it was reset/);
    for (const name of CONTRACT_NAMES) {
      expect(gone.lines.find((l) => l.includes(` ${name} `))).to.match(/^MISMATCH .*no code at this address/);
    }

    // The same deployer and nonces put the same code at the same addresses one block later.
    await rpc(devnet.rpcUrl, "evm_mine", []);
    await runHardhat(DEPLOY, { RPC_URL: devnet.rpcUrl, DEPLOYMENTS_DIR: dir });
    const again = readDeployment(31337, dir);
    expect(again.contracts).to.deep.equal(before.contracts);
    expect(again.code).to.deep.equal(before.code);
    const back = await verify(devnet, file);
    expect(back.code).to.equal(1);
    expect(back.lines[0]).to.match(
      new RegExp(
        `^MISMATCH\\s+deployBlock\\s+${before.deployBlock}\\s+block ${before.deployBlock} is 0x[0-9a-f]{64} on chain but ${before.deployBlockHash}`,
      ),
    );
    expect(back.lines.slice(1).every((l) => l.startsWith("ok"))).to.equal(true);
    expect(back.stderr).to.include("deployment does not match chain 31337: deployBlock");
  });
});
