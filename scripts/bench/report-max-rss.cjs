// Preloaded (`node --require`) into a client process by `npm run bench` (scripts/bench/range.ts):
// at exit, writes the process's peak resident set size in KiB (getrusage's ru_maxrss, worker
// threads included) to the file named by BENCH_MAX_RSS_FILE.
const { writeFileSync } = require("node:fs");

process.on("exit", () => {
  const file = process.env.BENCH_MAX_RSS_FILE;
  if (file) writeFileSync(file, `${process.resourceUsage().maxRSS}\n`);
});
