// Admin: who can sign in, with which role (admins only; the server refuses everyone else).

import { get } from "../api.js";
import { h } from "../dom.js";
import { formatTime, t } from "../i18n.js";

export async function adminPage(main) {
  const users = await get("/api/v1/ui/admin/users");
  main.append(h("section", { class: "page narrow", "data-testid": "admin" },
    h("div", { class: "toolbar" }, h("h1", {}, t("admin.title"))),
    h("div", { class: "card" }, h("table", { class: "stats" },
      h("thead", {}, h("tr", {}, ["#", t("admin.username"), t("admin.role"), t("admin.active"), t("admin.created"), t("admin.decisions")].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, users.map((u) => h("tr", {}, h("td", {}, u.id), h("th", { scope: "row" }, u.username), h("td", {}, t(`role.${u.role}`)),
        h("td", {}, u.active ? t("yes") : t("no")), h("td", {}, formatTime(u.created)), h("td", { class: "num" }, u.decisions))))),
      h("p", { class: "hint" }, t("admin.hint")))));
}
