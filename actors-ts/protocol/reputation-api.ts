import { z } from "zod";

/**
 * The dealbot controller's reputation feed (seed 004: reputation feeds placement), read by repair
 * miners for placement (decisions 20; windowed, with components, decisions 33).
 */

/** Where the controller serves the feed. */
export const REPUTATION_PATH = "/api/reputation";

/** One component of a provider's score within the window: counts and their Wilson 95 % lower bound. */
const componentSchema = z.object({
  successes: z.number().int().min(0),
  attempts: z.number().int().min(0),
  score: z.number().min(0).max(1),
});

/**
 * GET /api/reputation. Readers need only `scores`; every other field is optional so that a
 * controller from before decisions 33 (no window, no components) still parses.
 */
export const reputationResponseSchema = z.object({
  /** Lower-case provider address → score in [0, 1] (weighted components, decisions 33). */
  scores: z.record(z.string(), z.number().min(0).max(1)),
  ranking: z
    .array(
      z.object({
        provider: z.string(),
        /** Dealbot attempts (storage + retrieval) in the window. */
        attempts: z.number(),
        successes: z.number(),
        score: z.number(),
        /** Storage deals made by the bots (upload to publication). */
        storage: componentSchema.optional(),
        /** Retrievals by the bots (bytes verified). */
        retrieval: componentSchema.optional(),
        /** On-chain proving periods: successes = proven, attempts = proven + faults recorded. */
        proving: componentSchema.optional(),
      }),
    )
    .optional(),
  updatedAt: z.string().optional(),
  /** The sliding window the scores cover, ms. */
  windowMs: z.number().positive().optional(),
  /** The component weights used (before renormalisation over the components observed). */
  weights: z.object({ storage: z.number(), retrieval: z.number(), proving: z.number() }).optional(),
});

/** One component as the controller sends it. */
export type ReputationComponentBody = z.infer<typeof componentSchema>;

/** What the controller answers (everything is always there; readers need only `scores`). */
export interface ReputationResponse {
  scores: Record<string, number>;
  ranking: {
    provider: string;
    attempts: number;
    successes: number;
    score: number;
    storage: ReputationComponentBody;
    retrieval: ReputationComponentBody;
    proving: ReputationComponentBody;
  }[];
  updatedAt: string;
  windowMs: number;
  weights: { storage: number; retrieval: number; proving: number };
}
