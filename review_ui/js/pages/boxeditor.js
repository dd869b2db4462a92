// The evidence frame as SVG with the sighting's box drawn over it; the four corners drag (mouse, touch or arrow keys).

import { svg } from "../dom.js";

const CORNERS = [["x1", "y1"], ["x2", "y1"], ["x2", "y2"], ["x1", "y2"]];
const NAMES = ["top-left", "top-right", "bottom-right", "bottom-left"];

export function boxEditor(image, box, color, { readOnly = false, onChange = () => {} } = {}) {
  const width = image.naturalWidth || 640;
  const height = image.naturalHeight || 480;
  const original = box.slice(0, 4);
  const b = { x1: original[0], y1: original[1], x2: original[2], y2: original[3] };
  const handleSize = Math.max(width, height) / 90;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "frame", role: "img", "aria-label": "evidence frame", "data-testid": "frame" });
  const shade = svg("path", { class: "shade", "fill-rule": "evenodd" });
  const rect = svg("rect", { class: "box", stroke: color, "stroke-width": readOnly ? handleSize / 1.6 : handleSize / 3, fill: "none", "data-testid": "box" });
  const handles = CORNERS.map((_, i) => svg("rect", {
    class: "handle", width: handleSize * 2, height: handleSize * 2, fill: "#fff", stroke: color,
    "stroke-width": handleSize / 4, tabindex: readOnly ? null : 0, role: "slider", "data-handle": NAMES[i],
    "aria-label": `box corner ${NAMES[i]}`, "aria-valuetext": "",
  }));
  root.append(svg("image", { href: image.src, x: 0, y: 0, width, height }), shade, rect);
  if (!readOnly) root.append(...handles);

  function draw() {
    const x = Math.min(b.x1, b.x2), y = Math.min(b.y1, b.y2);
    const w = Math.abs(b.x2 - b.x1), hgt = Math.abs(b.y2 - b.y1);
    for (const [k, v] of Object.entries({ x, y, width: w, height: hgt })) rect.setAttribute(k, v);
    shade.setAttribute("d", `M0 0H${width}V${height}H0Z M${x} ${y}v${hgt}h${w}v${-hgt}Z`);
    handles.forEach((handle, i) => {
      const [xk, yk] = CORNERS[i];
      handle.setAttribute("x", b[xk] - handleSize);
      handle.setAttribute("y", b[yk] - handleSize);
      handle.setAttribute("aria-valuetext", `${Math.round(b[xk])}, ${Math.round(b[yk])}`);
    });
  }

  function move(i, x, y) {
    const [xk, yk] = CORNERS[i];
    b[xk] = Math.max(0, Math.min(width, x));
    b[yk] = Math.max(0, Math.min(height, y));
    draw();
    onChange();
  }

  function toImage(event) {
    const point = root.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    return point.matrixTransform(root.getScreenCTM().inverse());
  }

  handles.forEach((handle, i) => {
    handle.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      handle.setPointerCapture(event.pointerId);
      handle.focus();
      const onMove = (e) => { const p = toImage(e); move(i, p.x, p.y); };
      const onUp = () => { handle.removeEventListener("pointermove", onMove); handle.removeEventListener("pointerup", onUp); };
      handle.addEventListener("pointermove", onMove);
      handle.addEventListener("pointerup", onUp);
    });
    handle.addEventListener("keydown", (event) => {
      const step = event.shiftKey ? 10 : 2;
      const delta = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[event.key];
      if (!delta) return; // Enter, digits … bubble up to the page's shortcuts
      event.preventDefault();
      event.stopPropagation();
      const [xk, yk] = CORNERS[i];
      move(i, b[xk] + delta[0], b[yk] + delta[1]);
    });
  });
  draw();

  const current = () => [Math.min(b.x1, b.x2), Math.min(b.y1, b.y2), Math.max(b.x1, b.x2), Math.max(b.y1, b.y2)].map((v) => Math.round(v * 10) / 10);
  return {
    element: root,
    box: current,
    changed: () => current().some((v, i) => Math.abs(v - original[i]) > 0.5),
    reset: () => { [b.x1, b.y1, b.x2, b.y2] = original; draw(); },
  };
}
