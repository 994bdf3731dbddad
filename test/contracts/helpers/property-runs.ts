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

/**
 * A counter to call at the start of each sequence. Runs longer than the default print a line every
 * `every` sequences (with the rate, sequences per second) so `npm run test:deep` shows progress;
 * the default run prints nothing.
 */
export function progress(name: string, every = 500): () => void {
  let done = 0;
  const started = Date.now();
  return () => {
    done++;
    if (PROPERTY_RUNS <= DEFAULT_PROPERTY_RUNS || done % every !== 0) return;
    const seconds = (Date.now() - started) / 1000;
    console.log(`      ${name}: ${done} of ${PROPERTY_RUNS} sequences, ${(done / seconds).toFixed(1)}/s`);
  };
}
