// Review queue: one sighting at a time, keyboard first; the next one is already loaded when a decision is made.

import { evidenceUrl, get, post } from "../api.js";
import { clear, h, toast } from "../dom.js";
import { className, classColor, formatTime, stateName, t } from "../i18n.js";
import { boxEditor } from "./boxeditor.js";

const images = new Map(); // sha256 → Promise<HTMLImageElement>: the preload cache

function preload(sha256) {
  if (!images.has(sha256)) {
    images.set(sha256, new Promise((resolve) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => resolve(image);
      image.src = evidenceUrl(sha256);
    }));
    if (images.size > 60) images.delete(images.keys().next().value);
  }
  return images.get(sha256);
}

function preloadItem(item) {
  preload(item.frame_sha256);
  preload(item.crop_sha256);
}

export async function reviewPage(main, { config, args }) {
  const filters = { order: sessionStorage.getItem("sw.order") || "score", class_name: "" };
  // drawn: the item on the stage now (null: the stage says the queue is empty)
  const s = { current: null, upcoming: [], history: [], at: null, skipped: [], pending: 0, refill: null, legend: true, sending: new Set(), drawn: null };
  // The stage moves on at once, but decisions (and undo) reach the server one after another, in the order the
  // reviewer made them: undo then takes back the last one made, and a failed one is put back by itself.
  let outbox = Promise.resolve();
  function send(path, body) {
    const sent = outbox.then(() => post(path, body));
    outbox = sent.catch(() => {});
    return sent;
  }
  const view = h("div", { class: "review-body" });
  const count = h("span", { class: "pill", "data-testid": "pending" });
  const orderSelect = h("select", { id: "order", onchange: (e) => { filters.order = e.target.value; sessionStorage.setItem("sw.order", filters.order); reset(); } },
    ["score", "low", "time", "oldest"].map((o) => h("option", { value: o, selected: o === filters.order }, t(`review.order.${o}`))));
  const classSelect = h("select", { id: "class-filter", onchange: (e) => { filters.class_name = e.target.value; reset(); } },
    h("option", { value: "" }, t("common.all")), config.classes.map((c) => h("option", { value: c.name }, className(c.name))));
  const legend = h("div", { class: "legend", "data-testid": "legend" }, legendKeys(config));
  main.append(h("section", { class: "page review" },
    h("div", { class: "toolbar" },
      h("h1", {}, t("nav.review")), count,
      h("div", { class: "spacer" }),
      h("label", { class: "inline" }, t("common.class"), classSelect),
      h("label", { class: "inline" }, t("review.order"), orderSelect),
      h("button", { type: "button", onclick: () => undo() }, "↶ ", t("review.undo"), h("kbd", {}, "Z")),
      h("button", { type: "button", onclick: () => { s.legend = !s.legend; legend.hidden = !s.legend; } }, t("review.legend"), h("kbd", {}, "?"))),
    view));

  function reset() {
    s.current = null; s.upcoming = []; s.at = null;
    fill().then(render);
  }

  async function fill() {
    const exclude = [s.current?.id, ...s.sending, ...s.skipped.slice(-300)].filter(Boolean);
    const data = await get("/api/v1/ui/review/next", { ...filters, exclude, limit: 3 });
    s.pending = data.pending;
    const items = data.items.filter((i) => i.id !== s.current?.id && !s.sending.has(i.id));
    items.forEach(preloadItem);
    if (!s.current) s.current = items.shift() || null;
    s.upcoming = items;
  }

  // A refill that brings the next sighting to an empty stage draws it, whichever decision or skip asked for it: a
  // reviewer faster than the preload sees the next one as soon as it arrives, not when their own decision returns.
  function refill() {
    s.refill = (s.refill || Promise.resolve()).then(fill)
      .then(() => { if (s.at === null && s.current && !s.drawn) render(); })
      .catch((err) => toast(err.message, "error"));
    return s.refill;
  }

  let editor = null;
  async function render() {
    const shown = s.at === null ? s.current : s.at.item;
    count.textContent = `${t("review.pending")} ${s.pending}`;
    clear(view);
    s.drawn = shown;
    if (!shown) {
      view.append(h("div", { class: "card empty", "data-testid": "queue-empty" }, "✓ ", t("review.empty")));
      return;
    }
    const readOnly = s.at !== null;
    const frame = await preload(shown.frame_sha256);
    if ((s.at === null ? s.current : s.at.item) !== shown) return; // moved on while the image loaded
    editor = boxEditor(frame, shown.box, classColor(shown.class_name), { readOnly, onChange: () => changed.hidden = false });
    const changed = h("p", { class: "hint warn", hidden: true, "data-testid": "box-changed" }, t("review.boxChanged"));
    const decided = shown.decision;
    view.append(
      h("div", { class: "stage card", "data-testid": "stage", "data-sighting": shown.id }, editor.element,
        h("p", { class: "hint" }, readOnly ? t("review.history") : t("review.handleHelp")), changed, legend),
      h("aside", { class: "panel" },
        h("div", { class: "card crop-card" },
          h("img", { class: "crop", src: evidenceUrl(shown.crop_sha256), alt: t("review.crop") }),
          h("div", {},
            h("span", { class: "class-badge", style: { "--c": classColor(shown.class_name) }, "data-testid": "class" }, className(shown.class_name)),
            h("div", { class: "score" }, h("span", {}, t("common.score")), h("meter", { min: 0, max: 1, value: shown.score }), h("b", {}, shown.score.toFixed(2))),
            h("small", { class: "muted" }, `#${shown.id}`))),
        h("div", { class: "card" }, h("dl", { class: "facts" },
          fact(t("common.time"), formatTime(shown.best_time)),
          fact(t("common.place"), [shown.district, shown.street].filter(Boolean).join(" · ") || "—"),
          fact("GPS", shown.lat != null ? `${shown.lat.toFixed(5)}, ${shown.lon.toFixed(5)}` : "—"),
          fact(t("common.model"), shown.model || "—"),
          fact(t("common.source"), shown.source || "—"))),
        readOnly ? h("div", { class: "card decided" }, t("review.decided"), ": ", h("b", {}, decided ? t(`review.done.${decided.action}`) : shown.status),
          shown.case ? h("a", { href: `#/cases/${shown.case}` }, ` #${shown.case}`) : null) : actions(config),
        contextCard(shown.context)));
  }

  function actions(cfg) {
    return h("div", { class: "card actions" },
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary big", "data-testid": "confirm", onclick: () => confirm() }, "✓ ", t("review.confirm"), h("kbd", {}, "Enter")),
        h("button", { type: "button", class: "danger big", "data-testid": "reject", onclick: () => decide("reject") }, "✕ ", t("review.reject"), h("kbd", {}, "X"))),
      h("p", { class: "label" }, t("review.relabel")),
      h("div", { class: "relabel" }, cfg.classes.map((c, i) =>
        h("button", { type: "button", class: "chip", style: { "--c": c.color }, onclick: () => relabel(i) }, h("kbd", {}, String(i + 1)), className(c.name)))),
      h("div", { class: "row small" },
        h("button", { type: "button", onclick: () => back() }, "← ", t("review.prev"), h("kbd", {}, "K")),
        h("button", { type: "button", onclick: () => skip() }, t("review.next"), " →", h("kbd", {}, "J"))));
  }

  function confirm() {
    if (editor?.changed()) decide("fix_box", { box: editor.box() });
    else decide("confirm");
  }

  function relabel(index) {
    const target = config.classes[index];
    if (!target || !s.current) return;
    if (target.name === s.current.class_name) return confirm();
    decide("relabel", { class_name: target.name });
  }

  async function decide(action, extra = {}) {
    if (s.at !== null) return toast(t("review.history"), "info");
    const item = s.current;
    if (!item) return;
    s.history.push(item);
    s.current = s.upcoming.shift() || null;
    s.pending = Math.max(0, s.pending - 1);
    s.sending.add(item.id);
    render();
    let failed = false;
    try {
      const result = await send(`/api/v1/sightings/${item.id}/decision`, { action, ...extra });
      toast(`${t(`review.done.${action}`)}${result.case ? ` #${result.case}` : ""}`, action === "reject" ? "info" : "ok");
    } catch (err) {
      toast(err.message, "error");
      failed = true; // show the sighting again, in front of the one on the stage
      s.history = s.history.filter((i) => i !== item);
      if (s.current) s.upcoming.unshift(s.current);
      s.current = item;
    } finally {
      s.sending.delete(item.id);
    }
    await refill();
    if (failed && s.at === null) render();
    else count.textContent = `${t("review.pending")} ${s.pending}`;
  }

  async function undo() {
    try {
      const restored = await send("/api/v1/ui/review/undo");
      s.history = s.history.filter((i) => i.id !== restored.id);
      if (s.current) s.upcoming.unshift(s.current);
      s.current = restored;
      s.at = null;
      s.pending += 1;
      preloadItem(restored);
      toast(t("review.undone"), "ok");
      render();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function showHistory(index) {
    if (index < 0) return;
    if (index >= s.history.length) s.at = null;
    else s.at = { index, item: await get(`/api/v1/ui/sightings/${s.history[index].id}`) };
    render();
  }

  function back() {
    return showHistory((s.at === null ? s.history.length : s.at.index) - 1);
  }

  function skip() {
    if (s.at !== null) return showHistory(s.at.index + 1);
    if (!s.current) return;
    s.skipped.push(s.current.id);
    s.current = s.upcoming.shift() || null;
    render();
    refill();
  }

  function onKey(event) {
    if (event.target.closest?.("input, select, textarea") || event.altKey || event.metaKey) return;
    const key = event.key;
    const handlers = {
      Enter: confirm, a: confirm, x: () => decide("reject"), Delete: () => decide("reject"), Backspace: () => decide("reject"),
      z: undo, ArrowRight: skip, j: skip, ArrowLeft: back, k: back, r: () => editor?.reset(),
      b: () => { location.hash = "#/batch"; }, "?": () => { s.legend = !s.legend; legend.hidden = !s.legend; },
    };
    let handler = handlers[key.length === 1 ? key.toLowerCase() : key];
    if (/^[1-9]$/.test(key)) handler = () => relabel(Number(key) - 1);
    if (event.ctrlKey && key.toLowerCase() !== "z") return;
    if (!handler) return;
    if (event.target.tagName === "BUTTON" && (key === "Enter" || key === " ")) return;
    event.preventDefault();
    handler();
  }

  document.addEventListener("keydown", onKey);
  const linked = Number(args?.[0]); // #/review/<id>: that sighting first (from the map), read-only once decided
  if (linked) {
    const item = await get(`/api/v1/ui/sightings/${linked}`);
    preloadItem(item);
    if (item.status === "pending") s.current = item;
    else s.at = { index: s.history.length, item };
  }
  await fill();
  await render();
  return () => document.removeEventListener("keydown", onKey);
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function contextCard(context) {
  if (!context) return null;
  return h("div", { class: "card context" },
    h("h3", {}, t("review.nearCases")),
    context.cases.length ? h("ul", { class: "near" }, context.cases.map((c) => h("li", {},
      h("a", { href: `#/cases/${c.id}` }, `#${c.id}`), " ", h("span", { class: "dot", style: { "--c": classColor(c.class_name) } }), className(c.class_name),
      " · ", stateName(c.state), " · ", `${Math.round(c.distance_m)} ${t("common.m")}`,
      c.overdue ? h("span", { class: "badge red" }, t("common.overdue")) : null)))
      : h("p", { class: "muted" }, t("common.none")),
    h("h3", {}, t("review.earlier")),
    context.earlier.length ? h("div", { class: "thumbs" }, context.earlier.map((e) => h("figure", {},
      h("img", { src: evidenceUrl(e.crop_sha256), alt: className(e.class_name), loading: "lazy" }),
      h("figcaption", {}, formatTime(e.best_time), h("br"), className(e.class_name), " · ", t(`map.status.${e.status}`)))))
      : h("p", { class: "muted" }, t("common.none")));
}

function legendKeys(config) {
  const item = (keys, label) => h("span", { class: "key" }, keys.map((k) => h("kbd", {}, k)), " ", label);
  return [
    item(["Enter", "A"], t("keys.confirm")), item(["X", "Del"], t("keys.reject")),
    item(config.classes.map((_, i) => String(i + 1)), t("keys.relabel")),
    item(["Z"], t("keys.undo")), item(["K", "←", "J", "→"], t("keys.prevnext")), item(["R"], t("keys.reset")),
    item(["B"], t("keys.batch")), item(["?"], t("keys.legend")), h("span", { class: "key" }, "◢ ", t("keys.box")),
  ];
}

