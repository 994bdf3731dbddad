/**
 * `npm run test:under-load [-- --runs N --busy B -- <command…>]`: runs a command (default
 * `npm test`) N times (default 1) while B processes (default 2, one per core here) spin in
 * `for (;;) {}`, the check of docs/testing.md "Honest under load". Prints each run's exit code
 * and wall time, then a JSON summary line; exits 0 only when every run passed. The busy loops
 * are started before the first run, killed by pid when the last one ends (or on SIGINT/SIGTERM).
 */
import { spawn, type ChildProcess } from "node:child_process";

interface Options {
  runs: number;
  busy: number;
  command: string[];
}

function parse(argv: string[]): Options {
  const opts: Options = { runs: 1, busy: 2, command: ["npm", "test"] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--runs") opts.runs = Number(argv[++i]);
    else if (arg === "--busy") opts.busy = Number(argv[++i]);
    else if (arg === "--") {
      opts.command = argv.slice(i + 1);
      break;
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write(
        "usage: npm run test:under-load -- [--runs N] [--busy B] [-- command ...]\n" +
          "Runs the command (default: npm test) N times while B busy loops keep the cores loaded.\n",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (see --help)`);
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new Error("--runs must be a positive integer");
  if (!Number.isInteger(opts.busy) || opts.busy < 0) throw new Error("--busy must be a non-negative integer");
  if (opts.command.length === 0) throw new Error("no command after --");
  return opts;
}

function run(command: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const busy: ChildProcess[] = [];
  const stopBusy = () => {
    for (const b of busy) if (b.exitCode === null && b.signalCode === null) b.kill("SIGKILL");
  };
  process.once("SIGINT", () => {
    stopBusy();
    process.exit(130);
  });
  process.once("SIGTERM", () => {
    stopBusy();
    process.exit(143);
  });
  for (let i = 0; i < opts.busy; i++) {
    busy.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  }
  const results: { run: number; code: number | null; seconds: number }[] = [];
  try {
    for (let r = 1; r <= opts.runs; r++) {
      process.stderr.write(`\n==> run ${r}/${opts.runs}: ${opts.command.join(" ")} with ${opts.busy} busy loops\n`);
      const started = Date.now();
      const code = await run(opts.command);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      results.push({ run: r, code, seconds });
      process.stderr.write(`==> run ${r}: exit ${code} after ${seconds} s\n`);
    }
  } finally {
    stopBusy();
  }
  const passed = results.filter((r) => r.code === 0).length;
  process.stdout.write(`${JSON.stringify({ command: opts.command.join(" "), busy: opts.busy, passed, results })}\n`);
  process.exit(passed === results.length ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`test:under-load: ${(err as Error).message}\n`);
  process.exit(2);
});
