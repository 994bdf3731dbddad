/**
 * Provider reputation from dealbot records (seed 004 "Reputation systems"): the lower bound of
 * the Wilson score interval for the success rate, so that few observations count for little.
 * With z = 1.96 (95 %): 2 of 2 successes scores 0.34; 990 of 1000 scores 0.98; 0 attempts
 * scores 0.
 *
 * @param successes Successful attempts (integer ≥ 0).
 * @param attempts All attempts (integer ≥ successes).
 * @param z Standard-normal quantile of the confidence level.
 * @returns A score in [0, 1].
 */
export function wilsonLowerBound(successes: number, attempts: number, z = 1.96): number {
  if (attempts <= 0) return 0;
  const p = successes / attempts;
  const z2 = z * z;
  const centre = p + z2 / (2 * attempts);
  const margin = z * Math.sqrt((p * (1 - p)) / attempts + z2 / (4 * attempts * attempts));
  return Math.max(0, (centre - margin) / (1 + z2 / attempts));
}

/** One provider's standing. */
export interface ProviderScore {
  provider: string;
  attempts: number;
  successes: number;
  /** Wilson lower bound of the success rate, [0, 1]. */
  score: number;
}

/** Scores and ranks providers, best first (ties: more attempts first, then address). */
export function rankProviders(counts: { provider: string; attempts: number; successes: number }[]): ProviderScore[] {
  return counts
    .map((c) => ({ ...c, score: wilsonLowerBound(c.successes, c.attempts) }))
    .sort((a, b) => b.score - a.score || b.attempts - a.attempts || a.provider.localeCompare(b.provider));
}
