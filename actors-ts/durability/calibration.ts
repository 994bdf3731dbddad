import { readFileSync } from "node:fs";
import { z } from "zod";
import { RepairMarketError } from "../core/errors";

/**
 * The calibration input of `npm run durability -- --calibrate FILE`: how long real repairs took,
 * from a soak run's report (no soak exists yet; this is the shape one should write). JSON:
 *
 * ```json
 * { "epochSeconds": 30, "faultToRepairEpochs": [2950, 3010, 5900], "source": "soak 2027-01-10" }
 * ```
 *
 * - `epochSeconds`: seconds per epoch of the chain the soak ran on (> 0);
 * - `faultToRepairEpochs`: one entry per repaired piece, epochs from the fault the miner saw (a
 *   repair job's `faultEpoch`) to the replacement confirmed on chain (its `confirmedEpoch`): the
 *   download, rebuild and placement, detection excluded (the model keeps detecting losses at the
 *   proving period's end);
 * - instead of `faultToRepairEpochs`, `repaired: [{ "faultEpoch", "confirmedEpoch" }]` as
 *   `npm run demo -- --json` prints them (numbers or decimal strings) is accepted too;
 * - `source` (optional): where the figures came from, echoed in the report.
 */
export const calibrationSchema = z
  .object({
    epochSeconds: z.number().positive(),
    faultToRepairEpochs: z.array(z.number().nonnegative()).min(1).optional(),
    repaired: z
      .array(z.object({ faultEpoch: z.coerce.number().nonnegative(), confirmedEpoch: z.coerce.number().nonnegative() }))
      .min(1)
      .optional(),
    source: z.string().optional(),
  })
  .refine((c) => c.faultToRepairEpochs !== undefined || c.repaired !== undefined, {
    message: "give faultToRepairEpochs (epochs from fault to confirmed repair, one per piece) or repaired[]",
  });

/** Repair durations drawn from a soak, in hours. */
export interface Calibration {
  /** Hours from the fault the miner saw to the replacement confirmed, one per measured repair. */
  faultToRepairHours: number[];
  source?: string;
}

/** The calibration file was missing, not JSON, or not of {@link calibrationSchema}'s shape. */
export class CalibrationInputError extends RepairMarketError {
  override name = "CalibrationInputError" as const;
}

/**
 * Reads a calibration file (see {@link calibrationSchema}).
 *
 * @throws CalibrationInputError with the path and the first problem.
 * @example loadCalibration("soak.json").faultToRepairHours
 */
export function loadCalibration(path: string): Calibration {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new CalibrationInputError(`cannot read calibration ${path}: ${(err as Error).message}`, {
      details: { path },
      cause: err,
    });
  }
  return parseCalibration(raw, path);
}

/**
 * Checks parsed JSON against {@link calibrationSchema} and converts epochs to hours.
 *
 * @throws CalibrationInputError naming the offending field.
 */
export function parseCalibration(raw: unknown, path = "(input)"): Calibration {
  const parsed = calibrationSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CalibrationInputError(`calibration ${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
      details: { path, field: issue.path.join(".") },
    });
  }
  const c = parsed.data;
  const epochs = c.faultToRepairEpochs ?? (c.repaired ?? []).map((r) => r.confirmedEpoch - r.faultEpoch);
  const bad = epochs.find((e) => !(e >= 0));
  if (bad !== undefined) {
    throw new CalibrationInputError(`calibration ${path}: a repair confirmed before its fault (${bad} epochs)`, {
      details: { path, field: "repaired" },
    });
  }
  return { faultToRepairHours: epochs.map((e) => (e * c.epochSeconds) / 3600), source: c.source };
}
