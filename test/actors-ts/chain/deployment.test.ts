import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDeployment, readDeploymentFile } from "../../../actors-ts/chain/deployment";
import { InvalidArgumentError } from "../../../actors-ts/core/errors";

/** A deployment file as scripts/deploy.ts wrote it before profiles, block hashes and code hashes. */
const OLD_FILE = {
  chainId: 31337,
  deployBlock: 1,
  deployer: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
  contracts: {
    PaymentToken: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ProviderRegistry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    StorageMarket: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    RepairMarket: "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
    PaymentChannels: "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9",
  },
  marketParams: { provingPeriodEpochs: "30" },
  repairParams: { repairWindowEpochs: "120" },
  settleDelayEpochs: "20",
};
const HASH = `0x${"ab".repeat(32)}`;
const NEW_FIELDS = {
  profile: "base-sepolia",
  deployBlockHash: HASH,
  code: {
    PaymentToken: { codeHash: HASH },
    StorageMarket: {
      codeHash: HASH,
      artifact: "contracts/market/StorageMarket.sol:StorageMarket",
      buildInfo: "b7e6175f8e50ead8feba5005819291e8",
    },
  },
};

describe("deployment files", () => {
  let dir: string;
  const write = async (name: string, content: unknown): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(content));
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "deployment-file-"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads a file written before profiles, block hashes and code hashes", async () => {
    const deployment = readDeploymentFile(await write("old.json", OLD_FILE), 31337);
    expect(deployment.profile).to.equal(undefined);
    expect(deployment.deployBlockHash).to.equal(undefined);
    expect(deployment.code).to.equal(undefined);
    expect(deployment.contracts.StorageMarket).to.equal(OLD_FILE.contracts.StorageMarket);
  });

  it("loads the profile, the deploy block's hash and the code records when present", async () => {
    await write("31337.json", { ...OLD_FILE, ...NEW_FIELDS });
    const deployment = loadDeployment(dir, 31337);
    expect(deployment.profile).to.equal("base-sepolia");
    expect(deployment.deployBlockHash).to.equal(HASH);
    expect(deployment.code?.StorageMarket?.artifact).to.equal("contracts/market/StorageMarket.sol:StorageMarket");
    expect(deployment.code?.PaymentToken?.artifact).to.equal(undefined);
  });

  for (const [what, patch, field] of [
    ["a deploy block hash that is not 32 bytes", { deployBlockHash: "0x1234" }, "deployBlockHash"],
    ["an empty profile", { profile: "" }, "profile"],
    [
      "a code record without its hash",
      { code: { StorageMarket: { artifact: "a.sol:A" } } },
      "code.StorageMarket.codeHash",
    ],
    [
      "a code record for a contract it does not deploy",
      { code: { Vault: { codeHash: HASH } } },
      "code.Vault (no such contract)",
    ],
    [
      "an artifact that is not a fully qualified name",
      { code: { StorageMarket: { codeHash: HASH, artifact: "StorageMarket" } } },
      "code.StorageMarket.artifact",
    ],
  ] as const) {
    it(`refuses ${what}`, async () => {
      const path = await write("bad.json", { ...OLD_FILE, ...NEW_FIELDS, ...patch });
      expect(() => readDeploymentFile(path))
        .to.throw(InvalidArgumentError)
        .with.property("details")
        .that.deep.equals({ path, field });
    });
  }
});
