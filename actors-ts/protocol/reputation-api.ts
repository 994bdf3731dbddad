import { z } from "zod";

/**
 * The dealbot controller's reputation feed (seed 004: reputation feeds placement), read by repair
 * miners for placement (decisions 20).
 */

/** Where the controller serves the feed. */
export const REPUTATION_PATH = "/api/reputation";

/** GET /api/reputation. */
export const reputationResponseSchema = z.object({
  /** Lower-case provider address → score in [0, 1] (Wilson lower bound of the success rate). */
  scores: z.record(z.string(), z.number().min(0).max(1)),
  ranking: z
    .array(z.object({ provider: z.string(), attempts: z.number(), successes: z.number(), score: z.number() }))
    .optional(),
  updatedAt: z.string().optional(),
});

/** What the controller answers (`ranking` and `updatedAt` are always there; readers need only `scores`). */
export interface ReputationResponse {
  scores: Record<string, number>;
  ranking: { provider: string; attempts: number; successes: number; score: number }[];
  updatedAt: string;
}
