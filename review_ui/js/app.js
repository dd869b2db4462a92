// The shell: sign-in, the role-aware top bar, and the hash router that mounts one page at a time.

import { ApiError, get, signIn, signOut } from "./api.js";
import { clear, h, toast } from "./dom.js";
import { lang, setConfig, setLang, t } from "./i18n.js";
import { adminPage } from "./pages/admin.js";
import { batchPage } from "./pages/batch.js";
import { boardPage } from "./pages/board.js";
import { casePage } from "./pages/case.js";
import { dashboardPage } from "./pages/dashboard.js";
import { mapPage } from "./pages/map.js";
import { reviewPage } from "./pages/review.js";

const RANK = { viewer: 0, reviewer: 1, supervisor: 2, admin: 3 };
// route → [page, minimum role, nav key]
const ROUTES = {
  review: [reviewPage, "reviewer", "nav.review"],
  batch: [batchPage, "reviewer", "nav.batch"],
  cases: [boardPage, "viewer", "nav.cases"],
  case: [casePage, "viewer", null],
  map: [mapPage, "viewer", "nav.map"],
  dashboard: [dashboardPage, "viewer", "nav.dashboard"],
  admin: [adminPage, "admin", "nav.admin"],
};

const state = { config: null, unmount: null };
export const may = (role) => state.config && RANK[state.config.user.role] >= RANK[role];

function homeRoute() {
  return may("reviewer") ? "review" : "cases";
}

function topbar(current) {
  const bar = clear(document.getElementById("topbar"));
  bar.hidden = false;
  const user = state.config.user;
  const links = Object.entries(ROUTES)
    .filter(([, [, minimum, key]]) => key && may(minimum))
    .map(([name, [, , key]]) =>
      h("a", { href: `#/${name}`, class: name === current ? "active" : "", "aria-current": name === current ? "page" : null }, t(key)),
    );
  bar.append(
    h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "城"),
      h("div", {}, h("strong", {}, t("app.name")), h("small", {}, t("app.city")))),
    h("nav", { "aria-label": "main" }, links),
    h("div", { class: "user" },
      h("button", { class: "ghost", type: "button", onclick: () => { setLang(lang() === "en" ? "zh-CN" : "en"); route(); } }, t("nav.language")),
      h("span", { class: "who" }, h("span", { class: "avatar", "aria-hidden": "true" }, user.username.slice(0, 1).toUpperCase()),
        h("span", {}, user.username, h("small", {}, t(`role.${user.role}`)))),
      h("button", { class: "ghost", type: "button", onclick: logout }, t("nav.signout"))),
  );
}

async function logout() {
  await signOut().catch(() => null);
  state.config = null;
  location.hash = "#/login";
  route();
}

function loginPage(main) {
  document.getElementById("topbar").hidden = true;
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "login-card", onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await signIn(data.get("username"), data.get("password"));
      location.hash = "#/";
      await start();
    } catch (err) {
      error.textContent = err.status === 429 ? err.message : t("login.failed");
    }
  } },
    h("div", { class: "login-brand" }, h("span", { class: "logo big", "aria-hidden": "true" }, "城"),
      h("h1", {}, t("app.name")), h("p", {}, t("login.subtitle"))),
    h("label", {}, t("login.username"), h("input", { name: "username", autocomplete: "username", required: true, autofocus: true })),
    h("label", {}, t("login.password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    error,
    h("button", { type: "submit", class: "primary wide" }, t("login.submit")),
    h("button", { type: "button", class: "link", onclick: () => { setLang(lang() === "en" ? "zh-CN" : "en"); loginPage(clear(main)); } }, t("nav.language")),
  );
  main.append(h("div", { class: "login-page" }, form));
}

export async function route() {
  const main = clear(document.getElementById("main"));
  if (state.unmount) state.unmount();
  state.unmount = null;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  if (!state.config) return loginPage(main);
  let target = ROUTES[name] ? name : homeRoute();
  if (name === "cases" && rest.length) target = "case"; // #/cases/<id>
  if (!ROUTES[name]) history.replaceState(null, "", `#/${target}`);
  const [page, minimum] = ROUTES[target];
  topbar(target === "case" ? "cases" : target);
  if (!may(minimum)) {
    main.append(h("section", { class: "page narrow" }, h("div", { class: "card empty", "data-testid": "no-access" }, t("common.noaccess"))));
    return;
  }
  try {
    state.unmount = (await page(main, { config: state.config, args: rest, may })) || null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return logout();
    toast(err.message, "error");
    throw err;
  }
}

async function start() {
  setLang(lang());
  try {
    state.config = await get("/api/v1/ui/config");
    setConfig(state.config);
  } catch (err) {
    state.config = null;
    if (!(err instanceof ApiError && err.status === 401)) toast(err.message, "error");
  }
  await route();
}

window.addEventListener("hashchange", () => route());
start();
