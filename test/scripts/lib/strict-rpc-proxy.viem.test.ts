import { expect } from "chai";
import {
  BaseError,
  createPublicClient,
  createTestClient,
  http,
  InvalidParamsRpcError,
  LimitExceededRpcError,
  publicActions,
  type PublicClient,
  walletActions,
} from "viem";
import { type Devnet, startDevnet } from "../../helpers/devnet";
import { superviseSuiteProcesses } from "../../helpers/process-logs";
import { StrictRpcProxy } from "../../../scripts/lib/strict-rpc-proxy";

describe("scripts/lib/strict-rpc-proxy in front of a hardhat node", function () {
  this.timeout(180_000);
  superviseSuiteProcesses();
  let devnet: Devnet;
  let proxy: StrictRpcProxy;
  let client: PublicClient;
  let logBlock: bigint;

  before(async () => {
    // Blocks on transactions only (no interval mining), so the head is where the test left it.
    devnet = await startDevnet([], { HARDHAT_INTERVAL_MINING_MS: "", HARDHAT_AUTOMINE: "true" });
    const chain = createTestClient({ mode: "hardhat", transport: http(devnet.rpcUrl) })
      .extend(publicActions)
      .extend(walletActions);
    await chain.mine({ blocks: 3_000 });
    const [account] = await chain.getAddresses();
    // A contract whose every call emits one empty LOG0: init code returning runtime 60006000a000.
    const deploy = await chain.sendTransaction({ account, chain: null, data: "0x6560006000a0006000526006601af3" });
    const { contractAddress } = await chain.waitForTransactionReceipt({ hash: deploy });
    if (!contractAddress) throw new Error("no contract deployed");
    const call = await chain.sendTransaction({ account, chain: null, to: contractAddress });
    logBlock = (await chain.waitForTransactionReceipt({ hash: call })).blockNumber;
    // Only the log rules: no faults, no rate limit, no latency, a fresh head on every check.
    const rulesOnly = { failureRate: 0, ratePerSecond: Infinity, latencyMs: 0, headCacheMs: 0 };
    proxy = new StrictRpcProxy({ upstreamUrl: devnet.rpcUrl, ...rulesOnly });
    // retryCount 0: viem retries a -32005 (limit exceeded) three times by default.
    client = createPublicClient({ transport: http((await proxy.start()).url, { retryCount: 0 }) });
  });

  after(async () => {
    await proxy?.stop();
    await devnet?.stop();
  });

  it("gives viem's getLogs its logs over 2,000 blocks and the range and lookback refusals as errors", async () => {
    const head = await client.getBlockNumber();
    expect(head).to.equal(logBlock, "nothing mined after the log");
    const logs = await client.getLogs({ fromBlock: head - 1_999n, toBlock: head });
    expect(logs.map((l) => l.blockNumber)).to.deep.equal([logBlock]);

    const tooWide = await client.getLogs({ fromBlock: head - 2_000n, toBlock: head }).catch((err: Error) => err);
    expect(tooWide).to.be.instanceOf(LimitExceededRpcError);
    expect((tooWide as BaseError).details).to.equal("query exceeds max block range 2000");

    const tooOld = await client
      .getLogs({ fromBlock: head - 2_881n, toBlock: head - 2_800n })
      .catch((err: Error) => err);
    expect(tooOld).to.be.instanceOf(InvalidParamsRpcError);
    expect((tooOld as BaseError).details).to.equal("lookbacks older than 2880 epochs are not allowed");
    const oldest = await client.getLogs({ fromBlock: head - 2_880n, toBlock: head - 2_800n });
    expect(oldest).to.deep.equal([]);
    expect(proxy.stats().refused).to.deep.equal({ range: 1, lookback: 1 });
  });
});
