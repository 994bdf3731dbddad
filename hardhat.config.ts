import "@nomicfoundation/hardhat-toolbox";
import { subtask, task } from "hardhat/config";
import {
  TASK_COMPILE,
  TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD,
  TASK_TEST_GET_TEST_FILES,
} from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/types";
import { writeAbiModule } from "./scripts/lib/abi-module";
import { deployerAccounts } from "./scripts/lib/deployer-key";
import "./tasks/deploy";
import "./tasks/market";
import "./tasks/repair";

// The compiler comes from the npm `solc` package (pinned exactly in package.json), so a build
// never downloads anything. The configured version is read from that package, so the two cannot
// drift apart (see docs/decisions.md).
const SOLC_VERSION: string = require("solc/package.json").version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(
      `solc ${args.solcVersion} requested but the npm solc package is ${SOLC_VERSION}; ` +
        "pin them to the same version",
    );
  }
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version() as string,
  };
});

// Every compile regenerates actors-ts/chain/generated/abis.ts from the artifacts: the agents'
// single source of truth for ABIs (never hand-copied).
task(TASK_COMPILE, async (args, hre, runSuper) => {
  const result = await runSuper(args);
  await writeAbiModule(hre.artifacts, hre.config.paths.root);
  return result;
});

// `npm test` runs files in parallel (mocha workers, `mocha.jobs` below), and workers take files
// in the order given. The order keeps the two heaviest multi-process suites (ten providers and
// a miner; seven providers twice) apart: the repair suite first, the in-process contract and
// unit tests beside it, then the fork suite and the other agent suites. Only `*.test.ts` files
// are test files (helpers are not). See docs/testing.md.
const TEST_ORDER = [
  "test/integration/repair.test.ts",
  "test/contracts/repair/RepairMarket.property.test.ts",
  "test/contracts/market/StorageMarket.property.test.ts",
  "test/contracts/retrieval/PaymentChannels.property.test.ts",
  "*",
  "test/integration/fork.test.ts",
  "test/integration/store-and-prove.test.ts",
  "test/integration/retrieval.test.ts",
  "test/integration/dealbot.test.ts",
  "test/integration/real-network.test.ts",
  "test/scripts/deploy.test.ts",
];

const SOAK_TEST = "test/scripts/soak.test.ts";

subtask(TASK_TEST_GET_TEST_FILES, async (args: { testFiles: string[] }, _hre, runSuper) => {
  const files: string[] = await runSuper(args);
  // The quick soak (eight providers, a miner, a dealbot; about 5 minutes of its own) runs only
  // when named (`npm run test:soak`, a CI step of its own after `npm test`): beside the parallel
  // suites it loaded the machine enough to make their chain-paced tests miss proving windows.
  const tests =
    args.testFiles.length > 0 ? files : files.filter((f) => /\.test\.[cm]?[jt]s$/.test(f) && !f.endsWith(SOAK_TEST));
  const rank = (file: string): number => {
    const i = TEST_ORDER.findIndex((s) => file.endsWith(s));
    return i < 0 ? TEST_ORDER.indexOf("*") : i;
  };
  return [...tests].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
});

const config: HardhatUserConfig = {
  solidity: {
    compilers: [
      {
        version: SOLC_VERSION,
        settings: {
          optimizer: { enabled: true, runs: 200 },
          viaIR: false,
          evmVersion: "cancun",
        },
      },
    ],
    // RepairMarket would pass the 24,576-byte limit (EIP-170) with the legacy pipeline: it is
    // compiled through the IR pipeline (viaIR), optimised for size (runs 1), which leaves it about
    // 4 KB under the limit (docs/decisions.md). Compiling it takes solc-js about 40 s more.
    overrides: {
      "contracts/repair/RepairMarket.sol": {
        version: SOLC_VERSION,
        settings: { optimizer: { enabled: true, runs: 1 }, viaIR: true, evmVersion: "cancun" },
      },
    },
  },
  paths: {
    sources: "./contracts",
    tests: "./test",
    cache: "./cache",
    artifacts: "./artifacts",
  },
  networks: {
    hardhat: {
      // Contract-size limits are enforced as on mainnet.
      allowUnlimitedContractSize: false,
      // `hardhat node` prints every JSON-RPC call (decoding each contract call) unless told not
      // to; with a dozen agents polling, that alone keeps a core busy. HARDHAT_NODE_LOGGING=1
      // turns it back on for debugging.
      loggingEnabled: process.env.HARDHAT_NODE_LOGGING === "1",
      // The gas report measures under a second rule set too (see scripts/gas-report.ts).
      ...(process.env.HARDHAT_HARDFORK ? { hardfork: process.env.HARDHAT_HARDFORK } : {}),
      // `hardhat node` for agents and the demo: a block every N ms as well as one per transaction,
      // so proving periods pass in real time.
      ...(process.env.HARDHAT_INTERVAL_MINING_MS
        ? {
            // HARDHAT_AUTOMINE=false: transactions wait for the next interval block, so epochs
            // pass in real time however many transactions the agents send.
            mining: {
              auto: process.env.HARDHAT_AUTOMINE !== "false",
              interval: Number(process.env.HARDHAT_INTERVAL_MINING_MS),
            },
          }
        : {}),
    },
    localhost: {
      url: process.env.RPC_URL ?? "http://127.0.0.1:8545",
    },
    // Any JSON-RPC endpoint, a testnet above all (README "Deploying to a testnet"): RPC_URL, and
    // transactions signed with DEPLOYER_KEY, read from the environment only (a key on the command
    // line shows in `ps`). Without a valid key, the node's own accounts (docs/decisions.md 35).
    custom: {
      url: process.env.RPC_URL ?? "http://127.0.0.1:8545",
      accounts: deployerAccounts(process.env),
      // Filecoin nodes take seconds to estimate gas; the default 20 s can be too short.
      timeout: 120_000,
    },
  },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
  },
  mocha: {
    timeout: 120_000,
    // Parallel workers for `hardhat test --parallel` (npm test): the multi-process suites mostly
    // wait on the chain, two workers overlap their waits on two cores. MOCHA_JOBS overrides.
    jobs: Number(process.env.MOCHA_JOBS ?? 2),
  },
  gasReporter: {
    enabled: false,
  },
};

export default config;
