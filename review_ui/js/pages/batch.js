// Batch mode: a grid of crops (least sure first); select the obvious false positives and reject them in one go.

import { evidenceUrl, get, post } from "../api.js";
import { clear, h, toast } from "../dom.js";
import { className, classColor, t } from "../i18n.js";

const COLUMNS_GUESS = 8;

export async function batchPage(main, { config }) {
  const filters = { class_name: "", order: "low" };
  const selected = new Set();
  const grid = h("div", { class: "grid", role: "grid", "aria-label": t("batch.title") });
  const count = h("span", { class: "pill" });
  const status = h("span", { class: "muted", "data-testid": "selected" });
  const rejectButton = h("button", { type: "button", class: "danger", "data-testid": "batch-reject", onclick: () => reject() }, "✕ ", t("batch.reject"), h("kbd", {}, "R"));
  main.append(h("section", { class: "page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("batch.title")), count, h("div", { class: "spacer" }),
      h("label", { class: "inline" }, t("common.class"), h("select", { onchange: (e) => { filters.class_name = e.target.value; load(); } },
        h("option", { value: "" }, t("common.all")), config.classes.map((c) => h("option", { value: c.name }, className(c.name))))),
      h("label", { class: "inline" }, t("review.order"), h("select", { onchange: (e) => { filters.order = e.target.value; load(); } },
        ["low", "score", "time", "oldest"].map((o) => h("option", { value: o }, t(`review.order.${o}`))))),
      h("button", { type: "button", onclick: () => selectAll() }, t("batch.selectAll"), h("kbd", {}, "A")), status, rejectButton),
    h("p", { class: "hint" }, t("batch.help")), grid));

  function updateStatus() {
    status.textContent = `${t("batch.selected")} ${selected.size}`;
    rejectButton.disabled = selected.size === 0;
  }

  function toggle(tile, id) {
    if (selected.has(id)) selected.delete(id); else selected.add(id);
    tile.setAttribute("aria-pressed", String(selected.has(id)));
    updateStatus();
  }

  function selectAll() {
    for (const tile of grid.querySelectorAll("[data-id]")) {
      selected.add(Number(tile.dataset.id));
      tile.setAttribute("aria-pressed", "true");
    }
    updateStatus();
  }

  async function load() {
    const data = await get("/api/v1/ui/review/grid", { ...filters, limit: 64 });
    count.textContent = `${t("review.pending")} ${data.pending}`;
    selected.clear();
    clear(grid);
    grid.append(...data.items.map((item) => {
      const tile = h("button", { type: "button", class: "tile", "data-id": item.id, "aria-pressed": "false", style: { "--c": classColor(item.class_name) },
        "aria-label": `#${item.id} ${className(item.class_name)} ${item.score.toFixed(2)}` },
        h("img", { src: evidenceUrl(item.crop_sha256), alt: "" }),
        h("span", { class: "tile-label" }, h("i", { class: "dot" }), h("span", { class: "name" }, className(item.class_name)), h("b", {}, item.score.toFixed(2))));
      tile.addEventListener("click", () => toggle(tile, item.id));
      return tile;
    }));
    if (!data.items.length) grid.append(h("div", { class: "card empty" }, "✓ ", t("review.empty")));
    updateStatus();
    grid.querySelector(".tile")?.focus();
  }

  async function reject() {
    if (!selected.size) return;
    const result = await post("/api/v1/ui/review/reject", { ids: [...selected], note: "batch" });
    toast(`${t("batch.rejected")} ${result.rejected.length}`, "ok");
    await load();
  }

  function onKey(event) {
    if (event.target.closest?.("input, select, textarea") || event.ctrlKey || event.metaKey) return;
    const tiles = [...grid.querySelectorAll(".tile")];
    const index = tiles.indexOf(document.activeElement);
    const columns = Math.max(1, Math.round(grid.clientWidth / (tiles[0]?.offsetWidth || grid.clientWidth / COLUMNS_GUESS)));
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
    if (event.key in moves && tiles.length) {
      event.preventDefault();
      tiles[Math.max(0, Math.min(tiles.length - 1, (index < 0 ? 0 : index + moves[event.key])))].focus();
    } else if (event.key.toLowerCase() === "r") { event.preventDefault(); reject(); }
    else if (event.key.toLowerCase() === "a") { event.preventDefault(); selectAll(); }
    else if (event.key === "Escape") { selected.clear(); tiles.forEach((tile) => tile.setAttribute("aria-pressed", "false")); updateStatus(); }
    else if (event.key.toLowerCase() === "q") { location.hash = "#/review"; }
  }
  document.addEventListener("keydown", onKey);
  await load();
  return () => document.removeEventListener("keydown", onKey);
}
