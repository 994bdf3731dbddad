import { expect } from "chai";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import { silentLogger } from "../../../actors-ts/core/logger";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { StorageClient } from "../../../actors-ts/client/storage-client";
import { keyArgsToEnv } from "../../helpers/agents";
import { startInProcessMarket, type InProcessMarket } from "../client/in-process-market";

const CLI = join(__dirname, "..", "..", "..", "bin", "repair-market.cjs");
/** The start of any ANSI escape sequence (a progress bar draws with them). */
const ESCAPE = "\u001b[";

/** A CLI run whose stdout is hashed as it streams (as `| sha256sum` would), never held as text. */
interface StreamedRun {
  code: number | null;
  stdoutBytes: number;
  stdoutSha256: string;
  stdout: Buffer;
  stderr: string;
}

/** Runs `repair-market …` with stdout and stderr as pipes (not terminals). */
function runCliStreamed(givenArgs: string[], keepStdout = false): Promise<StreamedRun> {
  const { args, env } = keyArgsToEnv(givenArgs, {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    const hash = createHash("sha256");
    const kept: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      hash.update(d);
      stdoutBytes += d.length;
      if (keepStdout) kept.push(d);
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdoutBytes, stdoutSha256: hash.digest("hex"), stdout: Buffer.concat(kept), stderr });
    });
  });
}

describe("cli: client retrieve --out - streams verified bytes to stdout, bars only on a terminal", function () {
  this.timeout(300_000);
  let market: InProcessMarket;
  let file: Buffer;
  let droot: Hex;
  let common: string[];

  before(async () => {
    market = await startInProcessMarket(6, {
      retrievalAsk: { pricePerByte: 1n, paymentIntervalBytes: 1n << 20n, paymentIntervalIncreaseBytes: 0n },
    });
    const { clients, contracts, store } = market;
    const pool = new ErasurePool(2);
    try {
      file = randomBytes(3 * 1024 * 1024 + 4321);
      const path = join(market.dir, "file.bin");
      await writeFile(path, file);
      const stored = await new StorageClient({ clients, contracts, store, logger: silentLogger }).storeErasureCoded(
        path,
        { k: 4, m: 2, providers: market.providers, workDir: join(market.dir, "store-work"), pool },
        { durationEpochs: 2000n, startDelayEpochs: 80n },
      );
      droot = stored.droot;
    } finally {
      await pool.close();
    }
    common = [
      ...["--key", market.clientKey, "--rpc", market.rpcUrl, "--deployment", market.deploymentDir],
      ...["--data-dir", market.clientDir],
    ];
  });

  after(async () => {
    await market?.close();
  });

  it("the whole file through `--out - | sha256` hashes to the file's SHA-256, with nothing else on stdout", async () => {
    const r = await runCliStreamed(["client", "retrieve", droot, "--out", "-", ...common]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdoutBytes).to.equal(file.length);
    expect(r.stdoutSha256).to.equal(createHash("sha256").update(file).digest("hex"));
    expect(r.stderr).to.include(`wrote ${file.length} bytes to stdout`);
    expect(r.stderr, "no progress bar on a pipe").to.not.include(ESCAPE);
  });

  it("a range through `--out - --json`: exactly its bytes on stdout, the JSON result on stderr, no bar", async () => {
    const start = 1_000_000;
    const end = 1_700_000;
    const r = await runCliStreamed(
      ["client", "retrieve", droot, "--range", `${start}-${end}`, "--out", "-", "--json", ...common],
      true,
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.equals(file.subarray(start, end + 1))).to.equal(true);
    expect(r.stderr).to.not.include(ESCAPE);
    const result = JSON.parse(r.stderr) as { ok: boolean; bytesWritten: number; paid: string; bytesFetched: number };
    expect(result.ok).to.equal(true);
    expect(result.bytesWritten).to.equal(end - start + 1);
    expect(BigInt(result.paid)).to.equal(BigInt(result.bytesFetched));
  });

  it("a range past the end is refused in one line on stderr, nothing on stdout", async () => {
    const r = await runCliStreamed([
      "client",
      "retrieve",
      droot,
      "--range",
      `5-${file.length}`,
      "--out",
      "-",
      ...common,
    ]);
    expect(r.code).to.equal(1);
    expect(r.stdoutBytes).to.equal(0);
    expect(r.stderr.trim().split("\n")).to.have.length(1);
    expect(r.stderr).to.include(`range 5-${file.length} is outside the file, which has ${file.length} bytes`);
  });
});
