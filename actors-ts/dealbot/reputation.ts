import { InvalidArgumentError } from "../core/errors";

/**
 * Provider reputation from dealbot records and the chain's proving record (seed 004 "Reputation
 * systems"; decisions 20 and 33). Each component is the lower bound of the Wilson score interval
 * for its success rate, so that few observations count for little. With z = 1.96 (95 %): 2 of 2
 * successes scores 0.34; 990 of 1000 scores 0.98; 0 attempts scores 0.
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

/** The three things a provider is judged on. */
export const COMPONENTS = ["storage", "retrieval", "proving"] as const;
export type ComponentName = (typeof COMPONENTS)[number];

/** Observations of one component within the window. */
export interface Counts {
  successes: number;
  attempts: number;
}

/** One component's observations and its Wilson lower bound, [0, 1] (0 with no attempts). */
export interface ReputationComponent extends Counts {
  score: number;
}

/** Weight of each component in the score (any non-negative numbers; they are normalised). */
export type ReputationWeights = Record<ComponentName, number>;

/**
 * Default weights, after FilOz's production dealbot (proving 40 %, retrieval 35 %, upload 25 %,
 * each a 95 % lower bound): a reference, not a rule (issue 17).
 */
export const DEFAULT_REPUTATION_WEIGHTS: Readonly<ReputationWeights> = Object.freeze({
  proving: 0.4,
  retrieval: 0.35,
  storage: 0.25,
});

/** Default sliding window of the scores: 7 days, ms. */
export const DEFAULT_REPUTATION_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Checks weights: each finite and ≥ 0, and not all 0.
 *
 * @throws InvalidArgumentError naming the bad weight.
 */
export function checkWeights(weights: ReputationWeights): ReputationWeights {
  for (const name of COMPONENTS) {
    const w = weights[name];
    if (!Number.isFinite(w) || w < 0)
      throw new InvalidArgumentError(`reputation weight ${name} must be a number ≥ 0, got ${w}`);
  }
  if (COMPONENTS.every((name) => weights[name] === 0)) throw new InvalidArgumentError("reputation weights are all 0");
  return weights;
}

/**
 * Combines component scores: Σ wᵢ·scoreᵢ / Σ wᵢ over the components with at least one attempt. A
 * component with no observations is left out and the other weights renormalised, so a provider
 * the bots have not retrieved from yet is judged on storage and proving alone rather than given
 * 0 for retrieval; with no observations at all the score is 0.
 *
 * @param components Each component's counts and score (missing = no observations).
 * @returns A score in [0, 1].
 * @example
 * combineScore({
 *   storage: { successes: 1, attempts: 1, score: 0.2 },
 *   proving: { successes: 9, attempts: 10, score: 0.6 },
 * }); // (0.25·0.2 + 0.40·0.6) / (0.25 + 0.40) ≈ 0.446 with the default weights
 */
export function combineScore(
  components: Partial<Record<ComponentName, ReputationComponent>>,
  weights: ReputationWeights = DEFAULT_REPUTATION_WEIGHTS,
): number {
  let sum = 0;
  let total = 0;
  for (const name of COMPONENTS) {
    const c = components[name];
    if (!c || c.attempts <= 0) continue;
    sum += weights[name] * c.score;
    total += weights[name];
  }
  return total > 0 ? Math.min(1, Math.max(0, sum / total)) : 0;
}

/** One provider's observations within the window (missing components: none observed). */
export interface ProviderCounts {
  provider: string;
  storage?: Counts;
  retrieval?: Counts;
  proving?: Counts;
}

/** One provider's standing. */
export interface ProviderScore {
  provider: string;
  /** Dealbot attempts (storage + retrieval) in the window. */
  attempts: number;
  /** Successful dealbot attempts in the window. */
  successes: number;
  /** Weighted combination of the components, [0, 1] (`combineScore`). */
  score: number;
  storage: ReputationComponent;
  retrieval: ReputationComponent;
  /** Proving periods: successes = periods proven, attempts = proven + faults recorded. */
  proving: ReputationComponent;
}

function component(counts: Counts | undefined): ReputationComponent {
  const successes = counts?.successes ?? 0;
  const attempts = counts?.attempts ?? 0;
  return { successes, attempts, score: wilsonLowerBound(successes, attempts) };
}

/**
 * Scores and ranks providers, best first (ties: more dealbot attempts first, then address).
 *
 * @param counts Per provider, what was observed in the window.
 * @param weights Component weights (default `DEFAULT_REPUTATION_WEIGHTS`).
 */
export function rankProviders(
  counts: ProviderCounts[],
  weights: ReputationWeights = DEFAULT_REPUTATION_WEIGHTS,
): ProviderScore[] {
  return counts
    .map((c) => {
      const storage = component(c.storage);
      const retrieval = component(c.retrieval);
      const proving = component(c.proving);
      return {
        provider: c.provider,
        attempts: storage.attempts + retrieval.attempts,
        successes: storage.successes + retrieval.successes,
        score: combineScore({ storage, retrieval, proving }, weights),
        storage,
        retrieval,
        proving,
      };
    })
    .sort((a, b) => b.score - a.score || b.attempts - a.attempts || a.provider.localeCompare(b.provider));
}
