// Dashboard: per district and street, cases filed/closed, overdue, median time to close, and the three rates of the
// city plan against their targets; filed and closed over time; export buttons.

import { get } from "../api.js";
import { clear, h } from "../dom.js";
import { lineChart, rateBars } from "../charts.js";
import { percent, t } from "../i18n.js";

const RATES = [["reply_rate", "dashboard.reply"], ["completion_rate", "dashboard.completion"], ["satisfaction_rate", "dashboard.satisfaction"]];

export async function dashboardPage(main) {
  let days = Number(sessionStorage.getItem("sw.days")) || 30;
  const body = h("div", { class: "dashboard" });
  const exports = [["cases.csv", "/api/v1/exports/cases.csv"], ["cases.geojson", "/api/v1/exports/cases.geojson"],
    ["sightings.csv", "/api/v1/exports/sightings.csv"], ["sightings.geojson", "/api/v1/exports/sightings.geojson"],
    ["Open311 requests.json", "/open311/v2/requests.json"], ["Open311 services.json", "/open311/v2/services.json"]];
  main.append(h("section", { class: "page" },
    h("div", { class: "toolbar" }, h("h1", {}, t("dashboard.title")), h("div", { class: "spacer" }),
      h("label", { class: "inline" }, t("dashboard.days"), h("select", { onchange: (e) => { days = Number(e.target.value); sessionStorage.setItem("sw.days", days); load(); } },
        [7, 14, 30, 90, 365].map((n) => h("option", { value: n, selected: n === days }, t("dashboard.daysN", { n }))))),
      h("div", { class: "exports", role: "group", "aria-label": t("dashboard.export") }, h("span", { class: "muted" }, t("dashboard.export")),
        exports.map(([name, href]) => h("a", { class: "button", href, download: name.replace("Open311 ", "open311-") }, name)))),
    body));

  async function load() {
    const data = await get("/api/v1/ui/dashboard", { days });
    const totals = data.totals;
    clear(body).append(
      h("div", { class: "kpis" },
        kpi(t("dashboard.filed"), totals.filed), kpi(t("dashboard.closed"), totals.closed),
        kpi(t("dashboard.overdue"), totals.overdue, totals.overdue ? "bad" : "ok"),
        kpi(t("dashboard.median"), totals.median_close_h === null ? "—" : `${totals.median_close_h} ${t("dashboard.hours")}`),
        RATES.map(([key, label]) => rateKpi(t(label), totals[key], data.targets[key]))),
      h("div", { class: "charts" },
        h("div", { class: "card" }, h("h2", {}, t("dashboard.trend")),
          lineChart(data.series, [{ key: "backlog", color: "#94a3b8", area: true, dashed: true }, { key: "filed", color: "#1d64d8" }, { key: "closed", color: "#2e7d32" }], { label: t("dashboard.trend") }),
          h("div", { class: "chart-legend" }, h("span", { style: { "--c": "#1d64d8" } }, t("dashboard.filed")), h("span", { style: { "--c": "#2e7d32" } }, t("dashboard.closed")),
            h("span", { style: { "--c": "#94a3b8" } }, t("dashboard.backlog")))),
        h("div", { class: "card" }, h("h2", {}, t("dashboard.rates")), RATES.map(([key, label]) => h("div", { class: "rate-block" },
          h("h3", {}, t(label), h("small", { class: "muted" }, ` ${t("dashboard.target")} ${key === "reply_rate" ? "" : "≥ "}${Math.round(data.targets[key] * 100)}%`)),
          rateBars(data.districts.map((d) => ({ name: d.district, value: d[key] })), { target: data.targets[key], label: t(label) }))))),
      h("div", { class: "card" }, h("h2", {}, t("dashboard.byDistrict")), table(data)));
  }
  await load();
}

function kpi(label, value, tone = "") {
  return h("div", { class: `kpi card ${tone}` }, h("span", { class: "kpi-label" }, label), h("strong", {}, value));
}

function rateKpi(label, value, target) {
  const ok = value !== null && value >= target;
  return h("div", { class: `kpi card ${value === null ? "" : ok ? "ok" : "bad"}` }, h("span", { class: "kpi-label" }, label),
    h("strong", {}, percent(value)),
    h("small", {}, `${t("dashboard.target")} ${Math.round(target * 100)}% · `, value === null ? "—" : ok ? `✓ ${t("dashboard.met")}` : `✗ ${t("dashboard.missed")}`));
}

function table(data) {
  const head = [t("common.district"), t("common.street"), t("dashboard.filed"), t("dashboard.closed"), t("dashboard.open"),
    t("dashboard.overdue"), t("dashboard.median"), t("dashboard.reply"), t("dashboard.completion"), t("dashboard.satisfaction")];
  const cell = (row, key) => {
    const ok = row[key] !== null && row[key] >= data.targets[key];
    return h("td", { class: `num ${row[key] === null ? "" : ok ? "ok" : "bad"}` }, percent(row[key]));
  };
  const line = (row, district, street, cls) => h("tr", { class: cls },
    h("th", { scope: "row" }, district), h("td", {}, street), h("td", { class: "num" }, row.filed), h("td", { class: "num" }, row.closed),
    h("td", { class: "num" }, row.open), h("td", { class: `num ${row.overdue ? "bad" : ""}` }, row.overdue),
    h("td", { class: "num" }, row.median_close_h ?? "—"), RATES.map(([key]) => cell(row, key)));
  return h("div", { class: "table-wrap" }, h("table", { class: "stats" },
    h("thead", {}, h("tr", {}, head.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, data.districts.map((d) => [line(d, d.district, t("common.all"), "district-row"),
      d.streets.map((s) => line(s, "", s.street, "street-row"))]))));
}
