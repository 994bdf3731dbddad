import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { trackProcess } from "./process-log";

const ROOT = join(__dirname, "..", "..");
const HARDHAT_CLI = require.resolve("hardhat/internal/cli/cli.js", { paths: [ROOT] });

/** A free TCP port on 127.0.0.1 (released just before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** A `hardhat node` child process serving JSON-RPC on 127.0.0.1. */
export interface Devnet {
  rpcUrl: string;
  port: number;
  process: ChildProcess;
  /** Output collected so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `hardhat node` on a free port and waits until it answers `eth_chainId`.
 *
 * @param args Extra CLI arguments (e.g. ["--fork", url]).
 * @param env Extra environment (e.g. HARDHAT_INTERVAL_MINING_MS for interval mining).
 * @param fixedPort Listen here instead of on a free port (e.g. 8545 for `npm run devnet`).
 * @throws Error with the node's output when it does not come up within 120 s.
 */
export async function startDevnet(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  fixedPort?: number,
): Promise<Devnet> {
  // A free port can be taken by another process between `freePort` and the node's listen; the
  // node then exits with EADDRINUSE and a new port is tried (up to three times in all).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevnetOn(args, env, fixedPort ?? (await freePort()));
    } catch (err) {
      if (fixedPort !== undefined || attempt >= 3 || !(err as Error).message.includes("EADDRINUSE")) throw err;
    }
  }
}

async function startDevnetOn(args: string[], env: NodeJS.ProcessEnv, port: number): Promise<Devnet> {
  const child = spawn(
    process.execPath,
    [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  trackProcess({ name: `hardhat node :${port}`, process: child, output: () => output });
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const rpcUrl = `http://127.0.0.1:${port}`;
  const devnet: Devnet = {
    rpcUrl,
    port,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited early:\n${output}`);
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        // Something else on the port may accept and never answer: each probe is bounded.
        signal: AbortSignal.timeout(5_000),
      });
      if (res.ok) return devnet;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await devnet.stop();
  throw new Error(`hardhat node did not answer on ${rpcUrl} within 120 s:\n${output}`);
}

/**
 * Starts `hardhat node --fork <sourceRpcUrl>` pinned to a block of the source chain. Without
 * `--fork-block-number`, Hardhat forks a chain it does not know 128 blocks behind its head (its
 * reorg allowance, `FALLBACK_MAX_REORG`): a fork of a devnet would then lack the last 128
 * blocks, and agents whose data dirs saw those blocks would act on state that is not there.
 *
 * @param blockNumber Block to fork at (default: the source's head at the time of the call).
 * @returns The fork (one block already mined on it), and the block it forked at.
 */
export async function forkDevnet(
  sourceRpcUrl: string,
  env: NodeJS.ProcessEnv = {},
  blockNumber?: bigint,
): Promise<Devnet & { forkBlock: bigint }> {
  const res = await fetch(sourceRpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
  });
  const head = BigInt(((await res.json()) as { result: string }).result);
  const forkBlock = blockNumber ?? head;
  const devnet = await startDevnet(["--fork", sourceRpcUrl, "--fork-block-number", forkBlock.toString()], env);
  // Hardhat refuses to execute calls at the fork block of a chain whose hardfork history it does
  // not know ("No known hardfork for execution on historical block"); one local block makes
  // `latest` callable at once, whether or not the fork mines on an interval.
  await fetch(devnet.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "evm_mine", params: [] }),
  });
  return { ...devnet, forkBlock };
}

/** A finished child process: exit code (null when killed by a signal) and its output. */
export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <args…>` from the repository root to completion, collecting stdout and stderr.
 *
 * @param options.timeoutMs SIGKILL the child and reject after this long (default: no limit).
 * @param options.stdin Written to the child's stdin, which is then closed (default: no stdin).
 * @throws Error naming the command when it times out or cannot be spawned.
 */
export function runNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; stdin?: string } = {},
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`node ${args.join(" ")} timed out after ${options.timeoutMs} ms\n${stderr}`));
          }, options.timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a Hardhat CLI command to completion and collects stdout and stderr apart. */
export function spawnHardhat(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessRun> {
  return runNode([HARDHAT_CLI, ...args], { env });
}

/** Runs a Hardhat CLI command to completion; resolves with its output, rejects on failure. */
export async function runHardhat(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await spawnHardhat(args, env);
  if (r.code !== 0) throw new Error(`hardhat ${args.join(" ")} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}
