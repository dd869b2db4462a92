// Map: the district/street polygons of the server's config and the sightings and cases on them, drawn as SVG in
// Web Mercator (so optional tiles line up), clustered on a screen grid when dense. Works offline: tiles are optional.

import { get } from "../api.js";
import { clear, h, svg } from "../dom.js";
import { className, classColor, stateName, t } from "../i18n.js";

const CELL = 64; // px: points closer than this on screen merge into a cluster
const PALETTE = ["#dbe7f6", "#e3f0e1", "#f6ead8", "#ece3f4", "#f4e0e0", "#dff1f1", "#f1f0d9"];
const EDGE = ["#6f93c5", "#79a872", "#c79b58", "#9a7fb8", "#c47d7d", "#5fa8a8", "#a7a455"];

export function project(lon, lat) {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

function rings(feature) {
  const g = feature.geometry || {};
  return g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
}

function fit(features, points, width, height) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const add = ([x, y]) => { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); };
  features.forEach((f) => rings(f).forEach((polygon) => polygon[0].forEach(([lon, lat]) => add(project(lon, lat)))));
  points.forEach(([lon, lat]) => add(project(lon, lat)));
  if (!Number.isFinite(x0)) return /* nothing to fit: the city centre */ { cx: project(121.47, 31.23)[0], cy: project(121.47, 31.23)[1], scale: 2 ** 20 };
  const span = Math.max((x1 - x0) / width, (y1 - y0) / height, 1e-9);
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale: 0.9 / span };
}

function districtColors(features) {
  const names = [...new Set(features.map((f) => f.properties.district))];
  return (name) => names.indexOf(name) % PALETTE.length;
}

function drawAreas(group, labels, areas, view, width, height, { streetLabels = true } = {}) {
  const toScreen = ([lon, lat]) => { const [x, y] = project(lon, lat); return [(x - view.cx) * view.scale + width / 2, (y - view.cy) * view.scale + height / 2]; };
  const color = districtColors(areas.features);
  const centres = new Map();
  for (const f of areas.features) {
    const index = color(f.properties.district);
    let d = "";
    for (const polygon of rings(f)) {
      for (const ring of polygon) d += `M${ring.map((p) => toScreen(p).map((v) => v.toFixed(1)).join(" ")).join("L")}Z`;
      const pts = polygon[0].map(toScreen);
      const c = pts.reduce((a, p) => [a[0] + p[0] / pts.length, a[1] + p[1] / pts.length], [0, 0]);
      if (streetLabels && f.properties.street) labels.append(svg("text", { x: c[0], y: c[1] + 14, class: "street-label" }, f.properties.street));
      const list = centres.get(f.properties.district) || [];
      list.push(c);
      centres.set(f.properties.district, list);
    }
    group.append(svg("path", { d, fill: PALETTE[index], stroke: EDGE[index], class: "area" }, svg("title", {}, [f.properties.district, f.properties.street].filter(Boolean).join(" · "))));
  }
  for (const [name, list] of centres) {
    const c = list.reduce((a, p) => [a[0] + p[0] / list.length, a[1] + p[1] / list.length], [0, 0]);
    labels.append(svg("text", { x: c[0], y: c[1] - 4, class: "district-label" }, name));
  }
  return toScreen;
}

export function spotMap(areas, c) {
  const width = 360, height = 240;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spot-map", role: "img", "aria-label": t("case.spot") });
  if (c.lat == null) return h("p", { class: "muted" }, "—");
  const inDistrict = areas.features.filter((f) => f.properties.district === c.district);
  const view = fit(inDistrict.length ? inDistrict : areas.features, [[c.lon, c.lat]], width, height);
  const group = svg("g"), labels = svg("g");
  root.append(svg("rect", { width, height, class: "sea" }), group, labels);
  const toScreen = drawAreas(group, labels, areas, view, width, height);
  const [x, y] = toScreen([c.lon, c.lat]);
  root.append(svg("circle", { cx: x, cy: y, r: 16, class: "pin-halo", fill: classColor(c.class_name) }),
    svg("circle", { cx: x, cy: y, r: 7, fill: classColor(c.class_name), stroke: "#fff", "stroke-width": 2.5 }));
  return h("div", {}, root, h("p", { class: "muted small" }, `${c.lat.toFixed(5)}, ${c.lon.toFixed(5)}`));
}

export async function mapPage(main, { config, may }) {
  const filters = { class_name: "", state: "", status: "", since: "", until: "" };
  const layers = { cases: true, sightings: true };
  let tileUrl = localStorage.getItem("sw.tiles") || "";
  let W = 1000, H = 640; // the drawing's size: the element's own, once it is on the page
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "map", tabindex: 0, role: "application", "aria-label": t("map.zoom"), "data-testid": "map" });
  const shown = h("span", { class: "muted", "data-testid": "map-shown" });
  const select = (name, options) => h("select", { name, onchange: (e) => { filters[name] = e.target.value; load(); } },
    h("option", { value: "" }, t("common.all")), options.map(([v, label]) => h("option", { value: v }, label)));
  const check = (name, label) => h("label", { class: "inline check" }, h("input", { type: "checkbox", checked: true, onchange: (e) => { layers[name] = e.target.checked; draw(); } }), label);
  main.append(h("section", { class: "page map-page" },
    h("div", { class: "toolbar wrap" }, h("h1", {}, t("map.title")), shown, h("div", { class: "spacer" }),
      h("label", { class: "inline" }, t("common.class"), select("class_name", config.classes.map((c) => [c.name, className(c.name)]))),
      h("label", { class: "inline" }, t("common.state"), select("state", Object.keys(config.states).map((s) => [s, stateName(s)]))),
      h("label", { class: "inline" }, t("map.status"), select("status", ["pending", "confirmed", "rejected"].map((s) => [s, t(`map.status.${s}`)]))),
      h("label", { class: "inline" }, t("common.since"), h("input", { type: "date", onchange: (e) => { filters.since = e.target.value; load(); } })),
      h("label", { class: "inline" }, t("common.until"), h("input", { type: "date", onchange: (e) => { filters.until = e.target.value; load(); } })),
      check("cases", t("map.cases")), check("sightings", t("map.sightings"))),
    h("div", { class: "map-wrap card" }, root, legend(config)),
    h("details", { class: "tiles" }, h("summary", {}, t("map.tiles")),
      h("input", { type: "url", value: tileUrl, placeholder: "https://tiles.example/{z}/{x}/{y}.png", "aria-label": t("map.tiles"), size: 50,
        onchange: (e) => { tileUrl = e.target.value.trim(); localStorage.setItem("sw.tiles", tileUrl); draw(); } }))));

  const box = root.getBoundingClientRect();
  if (box.width > 0 && box.height > 0) {
    [W, H] = [Math.round(box.width), Math.round(box.height)];
    root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  }
  const areas = await get("/api/v1/ui/areas");
  let data = { cases: [], sightings: [] };
  let view = null;

  async function load() {
    data = await get("/api/v1/ui/map", filters);
    if (!view) view = fit(areas.features, [...data.cases, ...data.sightings].map((p) => [p[2], p[1]]), W, H);
    draw();
  }

  function draw() {
    clear(root);
    const tiles = svg("g"), group = svg("g"), labels = svg("g", { class: "labels" }), points = svg("g");
    root.append(svg("rect", { width: W, height: H, class: "sea" }), tiles, group, points, labels);
    if (tileUrl) drawTiles(tiles);
    const toScreen = drawAreas(group, labels, areas, view, W, H, { streetLabels: view.scale > 2 ** 18 });
    const items = [];
    if (layers.sightings) data.sightings.forEach(([id, lat, lon, cls, status]) => items.push({ kind: "sighting", id, cls, status, xy: toScreen([lon, lat]) }));
    if (layers.cases) data.cases.forEach(([id, lat, lon, cls, state, overdue]) => items.push({ kind: "case", id, cls, state, overdue, xy: toScreen([lon, lat]) }));
    const cells = new Map();
    for (const item of items) {
      const [x, y] = item.xy;
      if (x < -CELL || y < -CELL || x > W + CELL || y > H + CELL) continue;
      const key = `${Math.floor(x / CELL)},${Math.floor(y / CELL)}`;
      (cells.get(key) || cells.set(key, []).get(key)).push(item);
    }
    for (const group of cells.values()) points.append(group.length === 1 ? marker(group[0]) : cluster(group));
    shown.textContent = `${t("map.cases")} ${data.cases.length} · ${t("map.sightings")} ${data.sightings.length}`;
  }

  function drawTiles(group) {
    const z = Math.max(0, Math.min(19, Math.round(Math.log2(view.scale / 256))));
    const n = 2 ** z, size = view.scale / n;
    const x0 = Math.floor((view.cx - W / 2 / view.scale) * n), x1 = Math.floor((view.cx + W / 2 / view.scale) * n);
    const y0 = Math.floor((view.cy - H / 2 / view.scale) * n), y1 = Math.floor((view.cy + H / 2 / view.scale) * n);
    for (let x = x0; x <= x1; x++) for (let y = y0; y <= y1; y++) {
      const href = tileUrl.replace("{z}", z).replace("{x}", x).replace("{y}", y);
      group.append(svg("image", { href, x: (x / n - view.cx) * view.scale + W / 2, y: (y / n - view.cy) * view.scale + H / 2, width: size + 0.5, height: size + 0.5, opacity: 0.6 }));
    }
  }

  function marker(item) {
    const [x, y] = item.xy;
    if (item.kind === "case") {
      const node = svg("a", { href: `#/cases/${item.id}`, class: "case-marker" },
        svg("rect", { x: x - 7, y: y - 7, width: 14, height: 14, rx: 3, fill: classColor(item.cls), stroke: item.overdue ? "#c62828" : "#fff", "stroke-width": item.overdue ? 3 : 2 }),
        svg("title", {}, `${t("common.case")} #${item.id} · ${className(item.cls)} · ${stateName(item.state)}${item.overdue ? ` · ${t("common.overdue")}` : ""}`));
      return node;
    }
    const dot = svg("circle", { cx: x, cy: y, r: 5, fill: classColor(item.cls), stroke: "#fff", "stroke-width": 1.5, opacity: item.status === "rejected" ? 0.45 : 0.95 },
      svg("title", {}, `${t("common.sighting")} #${item.id} · ${className(item.cls)} · ${t(`map.status.${item.status}`)}`));
    return may("reviewer") ? svg("a", { href: `#/review/${item.id}` }, dot) : dot;
  }

  function cluster(group) {
    const x = group.reduce((a, i) => a + i.xy[0], 0) / group.length, y = group.reduce((a, i) => a + i.xy[1], 0) / group.length;
    const r = Math.min(22, 10 + Math.log2(group.length) * 2.5);
    const counts = {};
    group.forEach((i) => { counts[i.cls] = (counts[i.cls] || 0) + 1; });
    const main = Object.entries(counts).sort((a, b) => b[1] - a[1])[0][0];
    const overdue = group.some((i) => i.overdue);
    const node = svg("g", { class: "cluster", "data-count": group.length },
      svg("circle", { cx: x, cy: y, r: r + 4, fill: classColor(main), opacity: 0.25 }),
      svg("circle", { cx: x, cy: y, r, fill: classColor(main), stroke: overdue ? "#c62828" : "#fff", "stroke-width": overdue ? 3 : 2 }),
      svg("text", { x, y: y + 4, class: "cluster-label" }, group.length),
      svg("title", {}, `${t("map.cluster")} ${group.length}: ${Object.entries(counts).map(([c, n]) => `${className(c)} ${n}`).join(", ")}`));
    node.addEventListener("click", () => zoom(2, x, y));
    return node;
  }

  function toView(event) {
    const point = root.createSVGPoint();
    point.x = event.clientX; point.y = event.clientY;
    return point.matrixTransform(root.getScreenCTM().inverse());
  }

  function zoom(factor, x = W / 2, y = H / 2) {
    const wx = view.cx + (x - W / 2) / view.scale, wy = view.cy + (y - H / 2) / view.scale;
    view.scale *= factor;
    view.cx = wx - (x - W / 2) / view.scale;
    view.cy = wy - (y - H / 2) / view.scale;
    draw();
  }

  function pan(dx, dy) {
    view.cx -= dx / view.scale;
    view.cy -= dy / view.scale;
    draw();
  }

  root.addEventListener("wheel", (event) => { event.preventDefault(); const p = toView(event); zoom(event.deltaY < 0 ? 1.25 : 0.8, p.x, p.y); }, { passive: false });
  let drag = null;
  root.addEventListener("pointerdown", (event) => { if (event.target.closest("a, .cluster")) return; drag = toView(event); root.setPointerCapture(event.pointerId); });
  root.addEventListener("pointermove", (event) => { if (!drag) return; const p = toView(event); pan(p.x - drag.x, p.y - drag.y); drag = p; });
  root.addEventListener("pointerup", () => { drag = null; });
  root.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60] };
    if (event.key === "+" || event.key === "=") zoom(1.5);
    else if (event.key === "-") zoom(1 / 1.5);
    else if (moves[event.key]) pan(...moves[event.key]);
    else return;
    event.preventDefault();
  });
  await load();
}

function legend(config) {
  return h("div", { class: "map-legend" },
    config.classes.map((c) => h("span", {}, h("i", { class: "dot", style: { "--c": c.color } }), className(c.name))),
    h("span", {}, h("i", { class: "sq" }), t("map.cases")), h("span", {}, h("i", { class: "dot plain" }), t("map.sightings")),
    h("span", {}, h("i", { class: "sq overdue" }), t("common.overdue")), h("span", { class: "muted" }, t("map.zoom")));
}
