import { z } from "zod";
import { zAddress } from "../core/schemas";
import { InvalidArgumentError } from "../core/errors";

/**
 * A storage-bot task (seed 004 "Storage Bot"): make one storage deal of `size` random bytes.
 * `priceLimit` is the most the bot pays, token base units per padded byte per epoch.
 */
export const storageTaskSchema = z.object({
  provider: z.union([z.literal("random"), zAddress]).default("random"),
  /** Bytes of random data to store (≥ 127: a piece holds at least one fr32 block). */
  size: z
    .number()
    .int()
    .min(127)
    .max(1 << 30),
  /** Deal duration, epochs (default: the client's default). */
  duration: z.number().int().positive().optional(),
  priceLimit: z
    .union([z.string().regex(/^\d+$/), z.number().int().nonnegative()])
    .transform((v) => BigInt(v))
    .optional(),
});
export type StorageTask = z.infer<typeof storageTaskSchema>;

/**
 * A retrieval-bot task (seed 004 "Retrieval Bot"): a `{pieceCid, provider}` tuple (one piece
 * from that provider), or `{droot}` (the whole file from any k of its providers; `provider`, if
 * given, only labels the record).
 */
export const retrievalTaskSchema = z.union([
  z.object({ pieceCid: z.string().min(1), provider: zAddress }).strict(),
  z
    .object({
      droot: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected a 32-byte 0x-hex droot"),
      provider: zAddress.optional(),
    })
    .strict(),
]);
export type RetrievalTask = z.infer<typeof retrievalTaskSchema>;

/**
 * Parses bot input: one JSON array of tasks, or one JSON task per line (blank lines skipped).
 *
 * @throws InvalidArgumentError naming the line (or array index) and the field that is wrong.
 */
export function parseTasks<T>(text: string, schema: z.ZodType<T>): T[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  let items: { where: string; value: unknown }[];
  if (trimmed.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new InvalidArgumentError(`tasks are not valid JSON: ${(err as Error).message}`);
    }
    items = (parsed as unknown[]).map((value, i) => ({ where: `task ${i}`, value }));
  } else {
    items = trimmed
      .split("\n")
      .map((line, i) => ({ line: line.trim(), i }))
      .filter((l) => l.line !== "")
      .map(({ line, i }) => {
        try {
          return { where: `line ${i + 1}`, value: JSON.parse(line) as unknown };
        } catch (err) {
          throw new InvalidArgumentError(`line ${i + 1} is not valid JSON: ${(err as Error).message}`);
        }
      });
  }
  return items.map(({ where, value }) => {
    const result = schema.safeParse(value);
    if (!result.success) {
      const issue = firstIssue(result.error.issues);
      throw new InvalidArgumentError(`${where}: ${issue.path.join(".") || "task"}: ${issue.message}`);
    }
    return result.data;
  });
}

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/** The issue to report: for a union, the first issue of the branch that came closest. */
function firstIssue(issues: readonly Issue[]): Issue {
  const issue = issues[0];
  if (issue.code === "invalid_union" && issue.errors?.length) {
    const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0];
    if (closest.length) {
      const nested = firstIssue(closest);
      return { ...nested, path: [...issue.path, ...nested.path] };
    }
  }
  return issue;
}
