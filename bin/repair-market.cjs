#!/usr/bin/env node
// The repair-market command: TypeScript sources run through tsx. main() reports its own errors
// (one line, --verbose for details); this catch only sees a failure to load the sources.
require("tsx/cjs");
require("../actors-ts/cli/main.ts")
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`error: ${String(err && err.message).split("\n")[0]}\n`);
    process.exit(1);
  });
