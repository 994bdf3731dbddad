/**
 * The dealbot controller's dashboard (seed 004 "a metrics dashboard … which miners fail
 * most/least"): success rate per provider over time, failures by stage, latency distributions,
 * the current ranking with each provider's storage, retrieval and proving components over the
 * reputation window (decisions 33), and the latest failures with their stage and message, drawn
 * with Chart.js (served by the controller, no CDN) from GET /api/summary, refreshed every 10 s.
 * `body[data-ready]` is set after the first render.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>repair-market dealbots</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 24px; }
  header h1 { font-size: 18px; margin: 0; }
  header p { margin: 4px 0 0; color: #aab3c5; }
  main { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; padding: 16px 24px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #e6e9ef; }
  td.num, th.num { text-align: right; }
  code { font-size: 12px; }
  .canvas { position: relative; height: 260px; }
  #error { color: #b00020; }
  .note { margin: 0 0 8px; color: #5a6478; font-size: 12px; }
  td.none { color: #aab3c5; }
</style>
</head>
<body>
<header>
  <h1>repair-market dealbots</h1>
  <p>Storage and retrieval attempts against registered providers. <span id="updated"></span> <span id="error"></span></p>
</header>
<main>
  <section id="ranking-section">
    <h2>Ranking <span id="window"></span></h2>
    <p class="note">Each component: successes / attempts and the Wilson 95 % lower bound; the score weighs them (<span id="weights"></span>) over the components observed.</p>
    <table id="ranking">
      <thead><tr><th>#</th><th>provider</th><th class="num">storage</th><th class="num">retrieval</th><th class="num">proving</th><th class="num">score</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Success rate per provider over time</h2>
    <div class="canvas"><canvas id="rate"></canvas></div>
  </section>
  <section>
    <h2>Failures by stage</h2>
    <div class="canvas"><canvas id="failures"></canvas></div>
  </section>
  <section>
    <h2>Latency distribution (successful attempts)</h2>
    <div class="canvas"><canvas id="latency"></canvas></div>
  </section>
  <section id="recent-failures-section" style="grid-column: 1 / -1">
    <h2>Latest failures</h2>
    <table id="recent-failures">
      <thead><tr><th>when</th><th>kind</th><th>provider</th><th>stage</th><th>message</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script src="/assets/chart.umd.min.js"></script>
<script>
const charts = {};
const short = (a) => a.length > 12 ? a.slice(0, 6) + "…" + a.slice(-4) : a;
const palette = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00"];
const LAT_BUCKETS = [0.5, 1, 2, 5, 10, 30, Infinity];

function draw(id, config) {
  if (charts[id]) { charts[id].data = config.data; charts[id].update(); return; }
  charts[id] = new Chart(document.getElementById(id), { ...config, options: { animation: false, maintainAspectRatio: false, ...(config.options || {}) } });
}

function render(s) {
  const tbody = document.querySelector("#ranking tbody");
  tbody.innerHTML = "";
  // A component cell: "successes/attempts · bound", or "–" when nothing was observed in the window.
  const cell = (c) => {
    const td = document.createElement("td");
    td.className = "num";
    if (!c || c.attempts === 0) { td.textContent = "–"; td.classList.add("none"); }
    else td.textContent = c.successes + "/" + c.attempts + " · " + c.score.toFixed(3);
    return td;
  };
  s.ranking.forEach((r, i) => {
    const tr = document.createElement("tr");
    tr.dataset.provider = r.provider;
    tr.innerHTML = "<td>" + (i + 1) + "</td><td><code></code></td>";
    tr.querySelector("code").textContent = r.provider;
    for (const name of ["storage", "retrieval", "proving"]) {
      const td = cell(r[name]);
      td.dataset.component = name;
      tr.appendChild(td);
    }
    const score = document.createElement("td");
    score.className = "num score";
    score.textContent = r.score.toFixed(3);
    tr.appendChild(score);
    tbody.appendChild(tr);
  });
  if (s.windowMs) {
    const days = s.windowMs / 86400000;
    document.getElementById("window").textContent = "(last " + (days >= 1 ? +days.toFixed(2) + " d" : +(s.windowMs / 3600000).toFixed(2) + " h") + ")";
  }
  if (s.weights) document.getElementById("weights").textContent = ["proving", "retrieval", "storage"].map((k) => k + " " + s.weights[k]).join(", ");

  const buckets = [...new Set(s.rateOverTime.map((b) => b.bucketMs))].sort((a, b) => a - b);
  const providers = [...new Set(s.rateOverTime.map((b) => b.provider))];
  draw("rate", {
    type: "line",
    data: {
      labels: buckets.map((t) => new Date(t).toLocaleTimeString()),
      datasets: providers.map((p, i) => ({
        label: short(p),
        borderColor: palette[i % palette.length],
        backgroundColor: palette[i % palette.length],
        spanGaps: true,
        data: buckets.map((t) => {
          const b = s.rateOverTime.find((x) => x.provider === p && x.bucketMs === t);
          return b ? b.successes / b.attempts : null;
        }),
      })),
    },
    options: { scales: { y: { min: 0, max: 1, title: { display: true, text: "success rate" } } } },
  });

  draw("failures", {
    type: "bar",
    data: {
      labels: s.failuresByStage.map((f) => f.kind + " / " + f.stage),
      datasets: [{ label: "failures", data: s.failuresByStage.map((f) => f.failures), backgroundColor: "#dc3912" }],
    },
    options: { plugins: { legend: { display: false } } },
  });

  const labels = LAT_BUCKETS.map((b, i) => (i === 0 ? "< " + b + " s" : b === Infinity ? "≥ " + LAT_BUCKETS[i - 1] + " s" : LAT_BUCKETS[i - 1] + "–" + b + " s"));
  const histogram = (values) => {
    const counts = LAT_BUCKETS.map(() => 0);
    for (const v of values) counts[LAT_BUCKETS.findIndex((b) => v / 1000 < b)]++;
    return counts;
  };
  const series = [];
  for (const kind of ["storage", "retrieval"]) {
    const rows = s.latencies.filter((l) => l.kind === kind);
    series.push({ label: kind + " TTFB", data: histogram(rows.map((r) => r.ttfbMs).filter((v) => v !== null)) });
    series.push({ label: kind + " TTLB", data: histogram(rows.map((r) => r.ttlbMs).filter((v) => v !== null)) });
  }
  series.forEach((d, i) => (d.backgroundColor = palette[i % palette.length]));
  draw("latency", { type: "bar", data: { labels, datasets: series } });

  // Messages come from providers: set as text, never as HTML.
  const failures = document.querySelector("#recent-failures tbody");
  failures.innerHTML = "";
  for (const f of s.recentFailures) {
    const tr = document.createElement("tr");
    for (const text of [new Date(f.datetime).toLocaleTimeString(), f.kind, short(f.provider), f.failedAt, f.errorMessage]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    tr.dataset.provider = f.provider;
    failures.appendChild(tr);
  }

  document.getElementById("updated").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
  document.body.dataset.ready = "1";
}

async function refresh() {
  try {
    const res = await fetch("/api/summary");
    if (!res.ok) throw new Error("GET /api/summary: HTTP " + res.status);
    render(await res.json());
    document.getElementById("error").textContent = "";
  } catch (err) {
    document.getElementById("error").textContent = String(err.message || err);
  }
}
refresh();
setInterval(refresh, 10000);
</script>
</body>
</html>
`;
