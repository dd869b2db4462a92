// Case detail: evidence, its spot on the map, the timeline of every event (who, when, what), and the actions the
// caller's role allows in the case's state — with a required note where the workflow needs one.

import { evidenceUrl, get, post } from "../api.js";
import { clear, h, toast } from "../dom.js";
import { className, classColor, formatTime, stateName, t } from "../i18n.js";
import { boxEditor } from "./boxeditor.js";
import { spotMap } from "./map.js";

// a note is required when a step goes back or ends the case
const NEEDS_NOTE = new Set(["rejected", "closed", "filed", "back"]);

export async function casePage(main, { args, config }) {
  const id = Number(args[0]);
  const page = h("section", { class: "page case-page" });
  main.append(page);

  async function load() {
    const [data, areas] = await Promise.all([get(`/api/v1/ui/cases/${id}`), get("/api/v1/ui/areas")]);
    const c = data.case;
    clear(page).append(
      h("div", { class: "toolbar" }, h("a", { href: "#/cases", class: "back" }, "← ", t("cases.title")),
        h("h1", {}, `${t("case.title")} #${c.id}`),
        h("span", { class: `state-badge state-${c.state}`, "data-testid": "case-state" }, stateName(c.state)),
        c.overdue ? h("span", { class: "badge red" }, t("common.overdue")) : null),
      h("div", { class: "case-layout" },
        h("div", { class: "case-main" },
          h("div", { class: "card" }, h("h2", {}, t("case.evidence")), evidence(data.sightings)),
          data.photos.length ? h("div", { class: "card" }, h("h2", {}, t("case.photos")), h("div", { class: "photos" }, data.photos.map((p) =>
            h("figure", {}, h("img", { src: evidenceUrl(p.sha256), alt: p.note || t("case.photo") }),
              h("figcaption", {}, formatTime(p.uploaded), " · ", p.username || "—", p.note ? ` · ${p.note}` : "")))))
            : null,
          h("div", { class: "card" }, h("h2", {}, t("case.timeline")), timeline(data.events))),
        h("aside", { class: "case-side" },
          h("div", { class: "card" }, h("h2", {}, t("case.info")), h("dl", { class: "facts" },
            fact(t("common.class"), h("span", { class: "class-badge", style: { "--c": classColor(c.class_name) } }, className(c.class_name))),
            fact(t("common.place"), [c.district, c.street].filter(Boolean).join(" · ") || "—"),
            fact(t("case.department"), c.department || "—"),
            fact(t("case.created"), formatTime(c.created)),
            fact(t("common.deadline"), h("span", { class: c.overdue ? "red" : "" }, formatTime(c.deadline))),
            fact(t("case.satisfaction"), c.satisfaction ? "★".repeat(c.satisfaction) + "☆".repeat(5 - c.satisfaction) : "—"),
            fact(t("case.sightings"), String(data.sightings.length)))),
          h("div", { class: "card" }, h("h2", {}, t("case.spot")), spotMap(areas, c)),
          h("div", { class: "card actions-card" }, h("h2", {}, t("case.actions")), actions(data, config, load)))));
  }
  await load();
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function evidence(sightings) {
  if (!sightings.length) return h("p", { class: "muted" }, t("common.none"));
  const first = sightings[0];
  const frame = h("div", { class: "frame-holder" });
  const image = new Image();
  image.onload = () => frame.append(boxEditor(image, first.box, classColor(first.class_name), { readOnly: true }).element);
  image.src = evidenceUrl(first.frame_sha256);
  return h("div", { class: "evidence" },
    h("figure", { class: "frame-figure" }, frame,
      h("figcaption", {}, formatTime(first.best_time), " · ", `${t("common.score")} ${first.score.toFixed(2)}`, " · ", first.source || "")),
    h("div", { class: "thumbs" }, sightings.map((s) => h("figure", {},
      h("img", { src: evidenceUrl(s.crop_sha256), alt: className(s.class_name), loading: "lazy" }),
      h("figcaption", {}, `#${s.id} · ${formatTime(s.best_time)}`)))));
}

function timeline(events) {
  return h("ol", { class: "timeline", "data-testid": "timeline" }, events.map((e) => {
    const photo = e.from_state === e.to_state && e.note.startsWith("photo ");
    const what = photo ? t("case.photoEvent") : e.from_state ? `${stateName(e.from_state)} → ${stateName(e.to_state)}` : stateName(e.to_state);
    return h("li", { class: `event to-${e.to_state}${photo ? " photo" : ""}`, "data-to": e.to_state },
      h("span", { class: "when" }, formatTime(e.at)),
      h("span", { class: "what" }, what),
      h("span", { class: "who", "data-testid": "event-user" }, e.username || "—"),
      e.note ? h("span", { class: "note" }, photo ? e.note.replace(/^photo [0-9a-f]+:?\s*/, "") : e.note) : null);
  }));
}

function actions(data, config, reload) {
  const c = data.case;
  if (!data.actions.length && !data.may_upload) return h("p", { class: "muted" }, t("case.noActions"));
  const box = h("div", { class: "action-list" });
  for (const to of data.actions) {
    const key = to === "handling" && c.state === "verifying" ? "back" : to;
    box.append(actionForm(c, to, key, config, reload));
  }
  if (data.may_upload && !["closed", "rejected"].includes(c.state)) box.append(uploadForm(c, reload));
  return box;
}

function actionForm(c, to, key, config, reload) {
  const noteRequired = NEEDS_NOTE.has(key);
  const fields = [];
  if (to === "dispatched") {
    fields.push(h("label", {}, t("case.department"), h("input", { name: "department", list: "departments", required: true })),
      h("datalist", { id: "departments" }, config.departments.map((d) => h("option", { value: d }))),
      h("label", {}, t("common.deadline"), h("input", { name: "deadline", type: "datetime-local" })));
  }
  if (to === "closed") {
    fields.push(h("label", {}, t("case.satisfaction"), h("select", { name: "satisfaction" },
      [5, 4, 3, 2, 1].map((n) => h("option", { value: n }, `${n} ${"★".repeat(n)}`)))));
  }
  fields.push(h("label", {}, `${t("common.note")}${noteRequired ? " *" : ""}`, h("textarea", { name: "note", rows: 2, required: noteRequired, "aria-required": String(noteRequired) })));
  const form = h("form", { class: `action action-${key}`, "data-action": key, onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const note = String(data.get("note") || "").trim();
    if (noteRequired && !note) return toast(t("case.noteRequired"), "error");
    try {
      if (to === "dispatched") {
        const deadline = data.get("deadline");
        await post(`/api/v1/ui/cases/${c.id}/dispatch`, { department: data.get("department"), note, deadline: deadline ? `${deadline}:00` : null });
      } else {
        const body = { to, note };
        if (to === "closed") body.satisfaction = Number(data.get("satisfaction"));
        await post(`/api/v1/cases/${c.id}/transition`, body);
      }
      toast(`${t("case.done")}: ${t(`action.${key}`)}`, "ok");
      await reload();
    } catch (err) {
      toast(err.message, "error");
    }
  } }, h("details", { open: ["dispatched", "handling", "verifying", "closed"].includes(key) ? true : null },
    h("summary", {}, t(`action.${key}`)), fields,
    h("button", { type: "submit", class: ["rejected", "back", "filed"].includes(key) ? "danger" : "primary" }, t(`action.${key}`))));
  return form;
}

function uploadForm(c, reload) {
  const form = h("form", { class: "action action-photo", "data-action": "photo", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await post(`/api/v1/cases/${c.id}/photos`, new FormData(form));
      toast(t("case.uploaded"), "ok");
      await reload();
    } catch (err) {
      toast(err.message, "error");
    }
  } }, h("details", { open: c.state === "handling" ? true : null }, h("summary", {}, t("case.upload")),
    h("label", {}, t("case.photo"), h("input", { type: "file", name: "photo", accept: "image/jpeg,image/png", required: true })),
    h("label", {}, t("common.note"), h("input", { name: "note" })),
    h("button", { type: "submit", class: "primary" }, t("case.upload"))));
  return form;
}
