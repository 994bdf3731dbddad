import { BaseError } from "viem";
import { ZodError } from "zod";
import { RepairMarketError } from "../core/errors";

/** Most causes followed (a cycle or a very deep chain stops here). */
const MAX_CAUSES = 12;

/**
 * What `--verbose` prints under an error's one line, each line indented two spaces: the error's
 * class, its RepairMarketError `details` (`key: value`), viem's `details` and `metaMessages`, the
 * rest of a multi-line message, then every `cause` down the chain the same way (`cause: Name:
 * message`), then the stack of the top error.
 *
 * @returns Lines without a trailing newline.
 */
export function errorDetailLines(err: unknown): string[] {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let e: unknown = err;
  for (let depth = 0; depth < MAX_CAUSES && e !== undefined && e !== null && !seen.has(e); depth++) {
    seen.add(e);
    const head = depth === 0 ? `${nameOf(e)}` : `cause: ${nameOf(e)}: ${summaryOf(e)}`;
    lines.push(`  ${head}`, ...ownDetails(e).map((l) => `    ${l}`));
    e = (e as { cause?: unknown }).cause;
  }
  const stack = err instanceof Error ? (err.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l)) : [];
  if (stack.length > 0) lines.push("  stack:", ...stack.map((l) => `    ${l.trim()}`));
  return lines;
}

function nameOf(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}

/** The one-line summary of a cause: shortMessage when it has one, else its message's first line. */
function summaryOf(e: unknown): string {
  if (e instanceof RepairMarketError || e instanceof BaseError) return e.shortMessage;
  if (e instanceof Error) return e.message.split("\n")[0];
  return String(e);
}

/** The lines describing one error of the chain (not its causes). */
function ownDetails(e: unknown): string[] {
  if (e instanceof RepairMarketError) {
    return Object.entries(e.details)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}: ${String(v)}`);
  }
  if (e instanceof BaseError) {
    const meta = (e.metaMessages ?? []).flatMap((m) => m.split("\n")).filter((l) => l.trim() !== "");
    return [...meta.map((l) => l.trim()), ...(e.details ? [`details: ${e.details}`] : [])];
  }
  if (e instanceof ZodError) return e.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`);
  if (e instanceof AggregateError) return e.errors.map((x) => `${nameOf(x)}: ${summaryOf(x)}`);
  if (e instanceof Error) {
    const sys = e as Error & { code?: unknown; syscall?: unknown; path?: unknown; dest?: unknown };
    const fields = (["code", "syscall", "path", "dest"] as const)
      .filter((k) => typeof sys[k] === "string")
      .map((k) => `${k}: ${String(sys[k])}`);
    return [
      ...e.message
        .split("\n")
        .slice(1)
        .filter((l) => l.trim() !== ""),
      ...fields,
    ];
  }
  return [];
}
