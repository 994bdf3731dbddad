#!/usr/bin/env node
// The repair-market command: TypeScript sources run through tsx.
require("tsx/cjs");
require("../actors-ts/cli/main.ts")
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  });
