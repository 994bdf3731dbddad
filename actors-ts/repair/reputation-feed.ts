import { httpJson } from "../core/http-client";
import type { Logger } from "../core/logger";

import { reputationResponseSchema } from "../protocol/reputation-api";

/**
 * Provider scores from a dealbot controller's `GET /api/reputation` (seed 004: reputation feeds
 * placement). The latest good answer is kept; a failed refresh keeps the previous scores.
 */
export class ReputationFeed {
  /** Lower-case provider address → score in [0, 1]. */
  readonly scores = new Map<string, number>();
  updatedAt?: number;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Fetches the scores once.
   *
   * @returns true when the scores were replaced.
   */
  async refresh(): Promise<boolean> {
    try {
      const body = await httpJson(
        { method: "GET", url: this.url },
        { peer: this.url, stage: "reputation feed" },
        reputationResponseSchema,
      );
      this.scores.clear();
      for (const [address, score] of Object.entries(body.scores)) this.scores.set(address.toLowerCase(), score);
      this.updatedAt = Date.now();
      return true;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message.split("\n")[0], url: this.url }, "reputation feed unavailable");
      return false;
    }
  }
}
