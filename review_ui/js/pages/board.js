// Case board: one column per state of the 数字城管 workflow, with counts and the overdue cases highlighted.

import { get } from "../api.js";
import { clear, h } from "../dom.js";
import { className, classColor, formatTime, stateName, t } from "../i18n.js";

export async function boardPage(main, { config }) {
  const filters = { class_name: "", district: "" };
  const board = h("div", { class: "board" });
  const rejected = h("span", { class: "muted" });
  main.append(h("section", { class: "page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("cases.title")), h("div", { class: "spacer" }),
      h("label", { class: "inline" }, t("common.class"), h("select", { onchange: (e) => { filters.class_name = e.target.value; load(); } },
        h("option", { value: "" }, t("common.all")), config.classes.map((c) => h("option", { value: c.name }, className(c.name))))),
      h("label", { class: "inline" }, t("common.district"), h("input", { type: "search", size: 10, onchange: (e) => { filters.district = e.target.value.trim(); load(); } })),
      rejected),
    board));

  async function load() {
    const data = await get("/api/v1/ui/cases/board", { ...filters, per_column: 30 });
    rejected.textContent = `${t("cases.rejected")} ${data.rejected}`;
    clear(board).append(...data.columns.map((column) => h("section", { class: `column state-${column.state}`, "aria-label": stateName(column.state), "data-state": column.state },
      h("header", {}, h("h2", {}, stateName(column.state)), h("span", { class: "count", "data-testid": `count-${column.state}` }, column.count),
        column.overdue ? h("span", { class: "badge red", title: t("common.overdue") }, `${t("common.overdue")} ${column.overdue}`) : null),
      h("ol", {}, column.cases.map((c) => h("li", {}, card(c)))),
      column.count > column.cases.length ? h("p", { class: "muted center" }, `+${column.count - column.cases.length} ${t("cases.more")}`) : null,
      !column.count ? h("p", { class: "muted center" }, t("cases.empty")) : null)));
  }
  await load();
}

function card(c) {
  return h("a", { class: `case-card${c.overdue ? " overdue" : ""}`, href: `#/cases/${c.id}`, style: { "--c": classColor(c.class_name) }, "data-case": c.id },
    h("div", { class: "case-top" }, h("span", { class: "dot" }), h("b", {}, className(c.class_name)), h("span", { class: "muted" }, `#${c.id}`)),
    h("div", { class: "case-place" }, [c.district, c.street].filter(Boolean).join(" · ") || "—"),
    h("div", { class: "case-meta" },
      c.department ? h("span", {}, c.department) : null,
      c.state === "closed" ? h("span", {}, formatTime(c.updated)) : h("span", { class: c.overdue ? "due red" : "due" }, `${t("cases.due")} ${formatTime(c.deadline)}`),
      c.overdue ? h("span", { class: "badge red" }, t("common.overdue")) : null));
}
