// A small line chart drawn as plain SVG (no chart library, nothing from a CDN), with a table beside it
// holding the same numbers for screen readers and for anyone who wants the figures.
import { formatMoney } from "../money.js";

const NS = "http://www.w3.org/2000/svg";
const COLOURS = ["#4338ca", "#b45309", "#047857", "#be123c", "#0369a1", "#7c3aed", "#4d7c0f", "#9f1239"];
const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 72, right: 16, top: 16, bottom: 36 };

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== null) el.textContent = text;
  return el;
}

/**
 * `series`: [{label, currency, points: {"2026-11": minor, …}}] in one currency. Returns an <svg> whose
 * accessible name is `title`; each line is labelled in a legend.
 */
export function lineChart(title, series, currency) {
  const periods = [...new Set(series.flatMap((s) => Object.keys(s.points)))].sort();
  const values = series.flatMap((s) => periods.map((p) => s.points[p] ?? 0));
  const max = Math.max(1, ...values);
  const min = Math.min(0, ...values);
  const x = (i) => PAD.left + (periods.length === 1 ? (WIDTH - PAD.left - PAD.right) / 2
    : (i * (WIDTH - PAD.left - PAD.right)) / (periods.length - 1));
  const y = (v) => PAD.top + ((max - v) * (HEIGHT - PAD.top - PAD.bottom)) / (max - min);
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT + 24 * Math.ceil(series.length / 3)}`, role: "img", class: "chart" });
  chart.append(svg("title", {}, title));
  for (const tick of [min, (min + max) / 2, max]) {
    chart.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }));
    chart.append(svg("text", { x: PAD.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "tick" }, formatMoney(Math.round(tick), currency)));
  }
  periods.forEach((p, i) => chart.append(svg("text", { x: x(i), y: HEIGHT - PAD.bottom + 18, "text-anchor": "middle", class: "tick" }, p)));
  series.forEach((s, n) => {
    const colour = COLOURS[n % COLOURS.length];
    const points = periods.map((p, i) => `${x(i)},${y(s.points[p] ?? 0)}`).join(" ");
    chart.append(svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2.5 }));
    periods.forEach((p, i) => {
      const dot = svg("circle", { cx: x(i), cy: y(s.points[p] ?? 0), r: 4, fill: colour });
      dot.append(svg("title", {}, `${s.label}, ${p}: ${formatMoney(s.points[p] ?? 0, currency)}`));
      chart.append(dot);
    });
    const lx = PAD.left + (n % 3) * 190;
    const ly = HEIGHT + 8 + 24 * Math.floor(n / 3);
    chart.append(svg("rect", { x: lx, y: ly, width: 12, height: 12, fill: colour }));
    chart.append(svg("text", { x: lx + 18, y: ly + 11, class: "legend" }, s.label));
  });
  return chart;
}
