// mldeploy console: the live log (server-sent events), the charts (uPlot, fed from /metrics samples), copy
// buttons and the plan chart. Everything else is htmx in the pages; links load the next page into this one
// (hx-boost), so what a page started (its log stream, its chart sampling) is stopped when another replaces it.
// The token comes from access.js.
"use strict";

let stopPage = () => {};

const COLOURS = ["#2e7d32", "#1565c0", "#b91c1c", "#9a6700", "#6a1b9a"];

function makeChart(element, names, unit, time = true) {
  const series = [{}].concat(names.map((name, i) => ({ label: name, stroke: COLOURS[i % COLOURS.length], width: 2,
    value: (u, v) => (v == null ? "-" : v.toFixed(unit === "ms" ? 1 : 2)) })));
  const size = () => ({ width: Math.max(element.clientWidth, 240), height: 200 });
  const chart = new uPlot({ ...size(), series, scales: { x: { time } },
    axes: [{}, { size: 56, label: unit }] }, [[]].concat(names.map(() => [])), element);
  new ResizeObserver(() => chart.setSize(size())).observe(element);
  return chart;
}

function startCharts(container) {
  const charts = {
    requests: { names: ["2xx", "4xx"], keys: ["ok_per_s", "client_errors_per_s"], unit: "req/s" },
    errors: { names: ["503", "other 5xx"], keys: ["busy_503_per_s", "server_errors_per_s"], unit: "req/s" },
    latency: { names: ["p50", "p99"], keys: ["p50_ms", "p99_ms"], unit: "ms" },
    workers: { names: ["in flight", "workers ready", "restarts"], keys: ["in_flight", "workers_ready", "restarts"],
      unit: "count" },
  };
  for (const [id, spec] of Object.entries(charts)) {
    spec.element = document.getElementById("chart-" + id);
    spec.chart = makeChart(spec.element, spec.names, spec.unit);
  }
  const problem = document.getElementById("charts-problem");
  let timer = null;
  async function sample() {
    try {
      const headers = { Accept: "application/json", Authorization: "token " + consoleToken() };
      const answer = await fetch(container.dataset.metrics, { headers });
      const data = await answer.json();
      const times = data.points.map((p) => p.t);
      problem.textContent = data.problem || (times.length ? "" : "Waiting for the first samples (one a second)…");
      container.hidden = times.length === 0;
      for (const spec of Object.values(charts)) {
        spec.chart.setData([times].concat(spec.keys.map((key) => data.points.map((p) => p[key]))));
        spec.element.dataset.points = String(times.length);
      }
      if (answer.status === 404) return;  // the service is gone: stop sampling
    } catch (error) {
      problem.textContent = "The console did not answer: is `mldeploy ui` still running?";
    }
    if (container.isConnected) timer = setTimeout(sample, 1000);
  }
  sample();
  return () => clearTimeout(timer);
}

function startLog(element) {
  const follow = document.getElementById("log-follow");
  const source = new EventSource(withToken(element.dataset.stream));  // a stream cannot send headers
  const append = (text, className) => {
    const line = document.createElement("span");
    if (className) line.className = className;
    line.textContent = text + "\n";
    element.appendChild(line);
    if (follow.checked) element.scrollTop = element.scrollHeight;
  };
  source.addEventListener("lines", (event) => {
    const data = JSON.parse(event.data);
    if (data.restarted) append("--- the log started anew (the service restarted) ---", "restart");
    data.lines.forEach((text) => append(text));
  });
  source.addEventListener("problem", (event) => append(JSON.parse(event.data).message, "restart"));
  source.addEventListener("gone", (event) => {
    append(JSON.parse(event.data).message, "restart");
    source.close();
  });
  return () => source.close();
}

function drawPlan() {
  const data = document.getElementById("plan-data");
  const element = document.getElementById("plan-chart");
  if (!data || !element || element.dataset.drawn) return;
  const series = JSON.parse(data.textContent);
  const names = ["requests/s", "ready replicas", "in flight", "503 %"];
  const chart = makeChart(element, names, "", false);
  chart.setData([series.t, series.rps, series.ready, series.in_flight, series.rejected]);
  element.dataset.points = String(series.t.length);
  element.dataset.drawn = "yes";
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.querySelector(button.dataset.copy).textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (error) {
    button.textContent = "Select and copy by hand";
  }
});

function startPage() {
  stopPage();
  const charts = document.getElementById("charts");
  const log = document.getElementById("log");
  const stops = [charts && startCharts(charts), log && startLog(log)].filter(Boolean);
  stopPage = () => stops.forEach((stop) => stop());
}

document.addEventListener("DOMContentLoaded", startPage);
document.addEventListener("htmx:historyRestore", startPage);
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.detail.boosted) startPage();
  drawPlan();
});
