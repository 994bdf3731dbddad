/**
 * How `npm run durability` shows its report: a text table and a hand-written SVG plot (the Markov
 * model's annual loss probability against the provider failure rate, log–log, one line per layout).
 */
import type { DurabilityReport, DurabilityRow } from "../../actors-ts/durability/report";

/** A number in 3 significant digits, in exponent form when very small or large. */
export function sig(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a < 1e-3 || a >= 1e7 ? x.toExponential(2) : String(Number(x.toPrecision(3)));
}

function mc(row: DurabilityRow): string {
  const s = row.simulation;
  if (!s) return "—";
  const i = s.lossesPerMillionFileYears;
  return s.filesLost === 0 ? `0 (< ${sig(i.hi)})` : `${sig(i.estimate)} [${sig(i.lo)}, ${sig(i.hi)}]`;
}

/** The report as an aligned text table with its assumptions above it. */
export function formatTable(r: DurabilityReport): string {
  const a = r.assumptions;
  const head = [
    `assumptions: provider failures ${a.providerFailuresPerYear}/year each (independent), proving period ${a.provingPeriodHours} h,`,
    `  detection ${sig(a.detectionHours)} h (a whole period + ${a.confirmationEpochs} confirmations of ${a.epochSeconds} s), placement ${sig(a.placementHours)} h,`,
    `  pieces ${sig(a.pieceSizeBytes / 2 ** 30)} GiB repaired at ${sig((a.repairBandwidthBytesPerSecond * 8) / 1e6)} Mbit/s; ` +
      `simulation: ${a.files} files on ${a.providers} providers for ${a.years} years, ${a.repairSlots} repair slots, seed ${a.seed}` +
      (a.calibration
        ? `, repairs calibrated from ${a.calibration.repairs} measured (${a.calibration.source ?? "no source"})`
        : ""),
    `  correlated rows: ${a.groups} operator groups, each losing all its providers at ${a.groupFailuresPerYear}/year; Markov: independent failures only`,
    "",
  ];
  const header = [
    "layout",
    "failures",
    "MTTDL (years)",
    "P(loss in 1 y)",
    "losses/1M files/y",
    "Monte Carlo losses/1M file-years [95 %]",
    "MC lost",
    "MC group failures",
    "MC restore h",
  ];
  const lines = r.rows.map((row) => [
    row.layout,
    row.failures === "independent"
      ? "independent"
      : `groups, ${row.groupPlacement === "spread" ? "spread" : "ignored"}`,
    row.markov ? sig(row.markov.mttdlYears) : "—",
    row.markov ? sig(row.markov.annualLossProbability) : "—",
    row.markov ? sig(row.markov.lossesPerMillionFilesPerYear) : "—",
    mc(row),
    row.simulation ? String(row.simulation.filesLost) : "—",
    row.simulation && row.failures === "correlated" ? String(row.simulation.groupFailures) : "—",
    row.simulation ? sig(row.simulation.meanRestoreHours) : "—",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [
    ...head,
    fmt(header),
    fmt(widths.map((w) => "-".repeat(w))),
    ...lines.map(fmt),
    "",
    `${(r.wallMs / 1000).toFixed(1)} s`,
  ].join("\n");
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** The report's curves as an SVG document (log–log axes, a legend, the assumptions in the title). */
export function plotSvg(r: DurabilityReport): string {
  const [w, h, left, right, top, bottom] = [760, 480, 80, 150, 40, 50];
  const xs = r.curves.flatMap((c) => c.points.map((p) => p.failuresPerYear));
  const ys = r.curves.flatMap((c) => c.points.map((p) => p.annualLossProbability)).filter((y) => y > 0);
  const [x0, x1] = [Math.floor(Math.log10(Math.min(...xs))), Math.ceil(Math.log10(Math.max(...xs)))];
  const [y0, y1] = [Math.floor(Math.log10(Math.min(...ys))), Math.min(0, Math.ceil(Math.log10(Math.max(...ys))))];
  const px = (x: number) => left + ((Math.log10(x) - x0) / (x1 - x0)) * (w - left - right);
  const py = (y: number) => top + ((y1 - Math.log10(Math.max(y, 10 ** y0))) / (y1 - y0)) * (h - top - bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">Annual probability of losing a file (Markov, independent failures; restore ${sig(r.rows[0]?.markov?.restoreHours ?? 0)} h)</text>`,
  ];
  for (let e = y0; e <= y1; e += Math.max(1, Math.ceil((y1 - y0) / 10))) {
    out.push(`<line x1="${left}" x2="${w - right}" y1="${py(10 ** e)}" y2="${py(10 ** e)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${py(10 ** e) + 4}" text-anchor="end">1e${e}</text>`);
  }
  for (let e = x0; e <= x1; e++) {
    out.push(`<line x1="${px(10 ** e)}" x2="${px(10 ** e)}" y1="${top}" y2="${h - bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${px(10 ** e)}" y="${h - bottom + 16}" text-anchor="middle">${10 ** e}</text>`);
  }
  out.push(
    `<text x="${(left + w - right) / 2}" y="${h - 12}" text-anchor="middle">provider failures per year (λ)</text>`,
  );
  r.curves.forEach((c, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const d = c.points.map(
      (p, j) => `${j === 0 ? "M" : "L"}${px(p.failuresPerYear).toFixed(1)},${py(p.annualLossProbability).toFixed(1)}`,
    );
    out.push(`<path d="${d.join(" ")}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${w - right + 10}" y="${top + 16 * (i + 1)}" fill="${colour}">${c.layout}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
