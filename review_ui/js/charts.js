// Charts drawn as SVG by hand: a line chart over days and horizontal rate bars against a target.

import { svg } from "./dom.js";

export function lineChart(points, series, { width = 720, height = 380, label = "" } = {}) {
  const pad = { left: 40, right: 16, top: 16, bottom: 28 };
  const max = Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key])));
  const nice = niceMax(max);
  const x = (i) => pad.left + (i * (width - pad.left - pad.right)) / Math.max(1, points.length - 1);
  const y = (v) => height - pad.bottom - (v / nice) * (height - pad.top - pad.bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label });
  for (let i = 0; i <= 5; i++) {
    const v = (nice * i) / 5;
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid-line" }),
      svg("text", { x: pad.left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, Math.round(v)));
  }
  const step = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    const last = i === points.length - 1;
    if ((i % step === 0 && points.length - 1 - i >= step / 2) || last) root.append(svg("text", { x: x(i), y: height - 8, class: "axis", "text-anchor": "middle" }, p.day.slice(5)));
  });
  for (const s of series) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)} ${y(p[s.key]).toFixed(1)}`).join("");
    if (s.area) root.append(svg("path", { d: `${d}L${x(points.length - 1)} ${y(0)}L${x(0)} ${y(0)}Z`, fill: s.color, opacity: 0.12 }));
    root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2.5, "stroke-linejoin": "round", "stroke-dasharray": s.dashed ? "6 4" : null }));
  }
  return root;
}

export function rateBars(rows, { width = 460, target, label = "" }) {
  const rowHeight = 30, pad = { left: 92, right: 56 };
  const height = rows.length * rowHeight + 24;
  const scale = (v) => pad.left + v * (width - pad.left - pad.right);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label });
  rows.forEach((row, i) => {
    const y = 8 + i * rowHeight;
    const ok = row.value !== null && row.value >= target;
    root.append(svg("text", { x: pad.left - 8, y: y + 15, class: "axis", "text-anchor": "end" }, row.name),
      svg("rect", { x: pad.left, y, width: width - pad.left - pad.right, height: 20, rx: 4, class: "bar-bg" }),
      svg("rect", { x: pad.left, y, width: Math.max(0, scale(row.value ?? 0) - pad.left), height: 20, rx: 4, class: ok ? "bar-ok" : "bar-bad" }),
      svg("text", { x: width - pad.right + 6, y: y + 15, class: `axis ${ok ? "ok" : "bad"}` }, row.value === null ? "—" : `${(row.value * 100).toFixed(1)}%`));
  });
  root.append(svg("line", { x1: scale(target), x2: scale(target), y1: 2, y2: height - 14, class: "target-line" }),
    svg("text", { x: scale(target), y: height - 2, class: "axis", "text-anchor": "middle" }, `${Math.round(target * 100)}%`));
  return root;
}

function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= value) return m * power;
  return 10 * power;
}
