import type { SoakReport } from "./report";

/**
 * The soak's report as one self-contained HTML page with hand-drawn SVG (no scripts, nothing
 * fetched): the fault-to-repair and bytes-per-repair distributions as histograms, and a timeline
 * of faults (marks) and repairs (bars from the fault to the confirmed replacement).
 */

const KIND_COLOURS: Record<string, string> = {
  "kill-restart": "#1f77b4",
  "kill-forever": "#d62728",
  wipe: "#9467bd",
  "corrupt-reads": "#ff7f0e",
  "stop-proving": "#8c564b",
  "miner-restart": "#2ca02c",
  "chain-outage": "#7f7f7f",
  burst: "#e377c2",
  unplanned: "#bcbd22",
};

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

/** A histogram of `values` in `bins` equal bins, as an SVG element with id `id`. */
export function histogramSvg(id: string, values: number[], unit: string, bins = 12): string {
  const w = 560;
  const h = 220;
  const pad = { left: 40, right: 10, top: 10, bottom: 40 };
  if (values.length === 0) {
    return `<svg id="${id}" width="${w}" height="${h}" role="img"><text x="20" y="40">no data</text></svg>`;
  }
  const min = Math.min(...values);
  const max = Math.max(...values);
  const width = max > min ? (max - min) / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - min) / width))]++;
  const top = Math.max(...counts);
  const bw = (w - pad.left - pad.right) / bins;
  const ph = h - pad.top - pad.bottom;
  const bars = counts
    .map((c, i) => {
      const bh = (c / top) * ph;
      const x = pad.left + i * bw;
      const from = Math.round(min + i * width);
      return `<rect class="bar" x="${x.toFixed(1)}" y="${(pad.top + ph - bh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="#4e79a7"><title>${from} ${unit}…: ${c}</title></rect>`;
    })
    .join("");
  const axis =
    `<line x1="${pad.left}" y1="${pad.top + ph}" x2="${w - pad.right}" y2="${pad.top + ph}" stroke="#333"/>` +
    `<text x="${pad.left}" y="${h - 20}" font-size="11">${Math.round(min)}</text>` +
    `<text x="${w - pad.right}" y="${h - 20}" font-size="11" text-anchor="end">${Math.round(max)}</text>` +
    `<text x="${w / 2}" y="${h - 4}" font-size="12" text-anchor="middle">${esc(unit)}</text>` +
    `<text x="4" y="${pad.top + 10}" font-size="11">${top}</text>`;
  return `<svg id="${id}" width="${w}" height="${h}" role="img">${bars}${axis}</svg>`;
}

/** Faults as marks and repairs as bars on one epoch axis. */
export function timelineSvg(report: SoakReport): string {
  const w = 1100;
  const rowH = 16;
  const repairs = report.repairs.jobs.filter((j) => j.faultEpoch !== undefined);
  const epochs = [
    ...report.faults.map((f) => f.epoch),
    ...repairs.flatMap((r) => [r.faultEpoch ?? 0, r.confirmedEpoch ?? r.faultEpoch ?? 0]),
  ];
  const lo = Math.min(...epochs, 0);
  const hi = Math.max(...epochs, lo + 1);
  const left = 110;
  const x = (e: number) => left + ((e - lo) / (hi - lo)) * (w - left - 20);
  const h = 60 + rowH * (repairs.length + 2);
  const marks = report.faults
    .map(
      (f) =>
        `<circle class="fault" cx="${x(f.epoch).toFixed(1)}" cy="30" r="5" fill="${KIND_COLOURS[f.kind] ?? "#000"}"><title>epoch ${f.epoch}: ${esc(f.kind)} ${esc(f.provider ?? "")} ${esc(f.note)}</title></circle>`,
    )
    .join("");
  const bars = repairs
    .map((r, i) => {
      const from = x(r.faultEpoch as number);
      const to = x(r.confirmedEpoch ?? hi);
      const y = 50 + i * rowH;
      return (
        `<rect class="repair" x="${from.toFixed(1)}" y="${y}" width="${Math.max(2, to - from).toFixed(1)}" height="${rowH - 4}" fill="${KIND_COLOURS[r.kind] ?? "#000"}" opacity="${r.confirmedEpoch === undefined ? 0.35 : 0.9}"><title>${esc(r.droot.slice(0, 10))}… pieces ${r.indices.join(",")}: ${esc(r.kind)}, fault ${r.faultEpoch} → confirmed ${r.confirmedEpoch ?? "not yet"}</title></rect>` +
        `<text x="4" y="${y + 10}" font-size="10">${esc(r.droot.slice(0, 10))} #${r.indices.join(",")}</text>`
      );
    })
    .join("");
  const axis =
    `<text x="4" y="34" font-size="11">faults</text>` +
    `<text x="${left}" y="${h - 6}" font-size="11">epoch ${lo}</text>` +
    `<text x="${w - 20}" y="${h - 6}" font-size="11" text-anchor="end">epoch ${hi}</text>`;
  return `<svg id="timeline" width="${w}" height="${h}" role="img">${marks}${bars}${axis}</svg>`;
}

/** The whole page. */
export function renderHtml(report: SoakReport): string {
  const d = report.faultToRepairDistribution;
  const b = report.bytesDownloadedDistribution;
  const legend = Object.entries(KIND_COLOURS)
    .map(([k, c]) => `<span style="color:${c}">■</span> ${k}`)
    .join(" &nbsp; ");
  const lost = report.filesLost
    .map((f) => `<tr><td>${esc(f.droot)}</td><td>${esc(f.reason)}</td><td>${f.beyondTolerance}</td></tr>`)
    .join("");
  const gas = report.proofGas.perProvider
    .map(
      (g) => `<tr><td>${g.provider}</td><td>${g.proofs}</td><td>${g.gasPerProof}</td><td>${g.gasPerPeriod}</td></tr>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>repair-market soak, seed ${report.seed}</title>
<style>body{font-family:sans-serif;margin:20px;max-width:1150px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}.ok{color:#2a2}.bad{color:#c22}</style>
</head><body data-ready="1">
<h1>Soak: seed ${report.seed} (${report.mode})</h1>
<p id="verdict" class="${report.ok ? "ok" : "bad"}">${report.ok ? "PASS" : "FAIL"}: ${report.filesIntact} of ${report.filesStored} files intact,
${report.filesLost.length} lost; funds conserved: ${report.fundsConserved}; ${report.repairs.confirmed} repairs confirmed of ${report.repairs.total};
${report.faults.length} faults over ${report.periods} proving periods of ${report.provingPeriodEpochs} epochs, ${report.providers} providers, ${report.wallSeconds.toFixed(0)} s.</p>
<h2>Fault → confirmed repair, epochs</h2>
<p>p50 ${d.p50}, p90 ${d.p90}, p99 ${d.p99}, max ${d.max} (n = ${d.count}; ${report.epochSeconds} s per epoch)</p>
${histogramSvg("repair-epochs", report.faultToRepairEpochs, "epochs")}
<h2>Bytes downloaded per repair</h2>
<p>p50 ${b.p50}, p90 ${b.p90}, max ${b.max} (n = ${b.count})</p>
${histogramSvg("repair-bytes", report.bytesDownloadedPerRepair, "bytes")}
<h2>Timeline</h2>
<p>${legend}</p>
${timelineSvg(report)}
<h2>Files lost</h2>
<table id="files-lost"><thead><tr><th>droot</th><th>reason</th><th>beyond tolerance</th></tr></thead><tbody>${lost}</tbody></table>
<h2>Proof gas</h2>
<p>${esc(report.proofGas.note)}</p>
<table id="proof-gas"><thead><tr><th>provider</th><th>proofs</th><th>gas per proof</th><th>gas per period</th></tr></thead><tbody>${gas}</tbody></table>
<h2>Funds</h2>
<table id="funds"><thead><tr><th>contract</th><th>held</th><th>owed</th><th>conserved</th></tr></thead><tbody>${report.conservation
    .map((c) => `<tr><td>${c.contract}</td><td>${c.held}</td><td>${c.owed}</td><td>${c.conserved}</td></tr>`)
    .join("")}</tbody></table>
</body></html>
`;
}
