/**
 * Random call sequences each property test checks. `npm test` runs the default (enough to catch
 * the planted bug of test/contracts/retrieval/PaymentChannels.seeded-bug.test.ts every time);
 * `npm run test:deep` sets PROPERTY_RUNS=10000.
 */
export const DEFAULT_PROPERTY_RUNS = 100;

/** Sequences to check in this run: PROPERTY_RUNS, else {@link DEFAULT_PROPERTY_RUNS}. */
export const PROPERTY_RUNS = Number(process.env.PROPERTY_RUNS ?? DEFAULT_PROPERTY_RUNS);

/** Mocha timeout for a property test of {@link PROPERTY_RUNS} sequences: a second a sequence, ms. */
export const PROPERTY_TIMEOUT_MS = Math.max(10 * 60 * 1000, PROPERTY_RUNS * 1000);
