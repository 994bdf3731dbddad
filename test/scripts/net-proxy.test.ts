import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type Server } from "node:http";
import { connect, createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { trackProcess } from "../../scripts/lib/process-log";
import { superviseSuiteProcesses } from "../helpers/process-logs";

const ROOT = join(__dirname, "..", "..");

/** `node -r tsx/cjs scripts/net-proxy.ts …` with its output collected, and its first stdout line. */
function startNetProxy(args: string[]): { child: ChildProcess; firstLine: Promise<string>; output(): string } {
  const child = spawn(process.execPath, ["--require", "tsx/cjs", join("scripts", "net-proxy.ts"), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  trackProcess({ name: `net-proxy ${args[0]}`, process: child, output: () => output });
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
      if (output.includes("\n")) resolve(output.split("\n")[0]);
    });
    child.once("exit", (code) => reject(new Error(`net-proxy exited ${code} before listening:\n${output}`)));
  });
  firstLine.catch(() => undefined); // awaited by the tests that expect a line; the rest read output()
  return { child, firstLine, output: () => output };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
  });
}

describe("scripts/net-proxy.ts: the proxies from the command line", function () {
  this.timeout(120_000);
  superviseSuiteProcesses();

  it("strict-rpc prints its URL as JSON, refuses a too-wide log range, and stops on SIGTERM with its counters", async () => {
    const upstream: Server = createHttpServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: "0x2710" }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const proxy = startNetProxy([
      "strict-rpc",
      "--target",
      target,
      "--failure-rate",
      "0",
      "--latency-ms",
      "0",
      "--json",
    ]);
    try {
      const listening = JSON.parse(await proxy.firstLine) as { kind: string; url: string; target: string };
      expect(listening).to.deep.include({ kind: "strict-rpc", target });
      const res = await fetch(listening.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getLogs", params: [{ fromBlock: "0x0" }] }),
      });
      const body = (await res.json()) as { error?: { message: string } };
      expect(body.error?.message).to.equal("query exceeds max block range 2000");
      proxy.child.kill("SIGTERM");
      expect(await exited(proxy.child)).to.equal(0);
      const last = JSON.parse(proxy.output().trim().split("\n").pop() ?? "{}") as {
        stopped: string;
        stats: { requests: number; refused: { range: number } };
      };
      expect(last.stopped).to.equal("SIGTERM");
      expect(last.stats.requests).to.equal(1);
      expect(last.stats.refused.range).to.equal(1);
    } finally {
      proxy.child.kill("SIGKILL");
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it("wan forwards a TCP connection and stops on SIGINT", async () => {
    const echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    const target = `127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const proxy = startNetProxy([
      "wan",
      "--target",
      target,
      "--latency-ms",
      "20",
      "--reset-probability",
      "0",
      "--json",
    ]);
    try {
      const listening = JSON.parse(await proxy.firstLine) as { kind: string; url: string; port: number };
      expect(listening).to.deep.include({ kind: "wan", url: `tcp://127.0.0.1:${listening.port}`, target });
      const socket = connect(listening.port, "127.0.0.1");
      const echoed = await new Promise<string>((resolve, reject) => {
        socket.once("data", (d: Buffer) => resolve(d.toString()));
        socket.once("error", reject);
        socket.write("hello");
      });
      expect(echoed).to.equal("hello");
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.on("error", () => undefined);
      proxy.child.kill("SIGINT");
      expect(await exited(proxy.child)).to.equal(0);
      await closed;
      expect(proxy.output()).to.match(/"stopped":"SIGINT","stats":\{"connections":1,/);
    } finally {
      proxy.child.kill("SIGKILL");
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it("refuses an option out of range, naming it", async () => {
    const proxy = startNetProxy(["strict-rpc", "--target", "http://127.0.0.1:1", "--failure-rate", "2"]);
    expect(await exited(proxy.child)).to.equal(1);
    expect(proxy.output()).to.match(
      /--failure-rate <fraction>' argument '2' is invalid\. expected a number from 0 to 1/,
    );
  });
});
