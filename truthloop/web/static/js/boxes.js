// The box editor: an SVG whose viewBox is in image pixels, so every box is stored, drawn and
// sent in image pixels whatever the zoom. Draw by dragging on the image (Shift: draw even over
// a box), move by dragging a box, resize by its handles, pan with Space+drag or the middle
// button, zoom with the wheel.

import { el, svg } from "./dom.js";
import { percent } from "./labels.js";

const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
const MIN_SIZE = 2;
const DRAG_THRESHOLD = 3;

// The keys every image view takes, the box editor and a read-only viewer alike: zoom in and
// out, fit, and Space held to pan; whether `key` was one of them.
export function viewKey(view, key) {
  if (key === "+" || key === "=") view.zoomBy(1.25);
  else if (key === "-" || key === "_") view.zoomBy(0.8);
  else if (key === "f" || key === "F") view.fit();
  else if (key === " ") view.panKey = true;
  else return false;
  return true;
}

export function labelColor(label) {
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 75% 45%)`;
}

function dot(color) {
  const span = el("span", { class: "dot" });
  span.style.backgroundColor = color;
  return span;
}

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

export class BoxEditor {
  constructor({ width, height, imageUrl, proposals = [], readOnly = false, label, before, changed }) {
    this.W = width;
    this.H = height;
    this.readOnly = readOnly;
    this.label = label;
    this.before = before || (() => {});
    this.changed = changed || (() => {});
    this.boxes = [];
    this.proposals = proposals.map((p, i) => ({ ...p, id: `p${i}`, status: "pending" }));
    this.selected = null;
    this.nextId = 1;
    this.drag = null;
    this.panKey = false;
    this.view = { x: 0, y: 0, w: width, h: height };
    this.svg = svg("svg", {
      class: "canvas" + (readOnly ? " readonly" : ""),
      preserveAspectRatio: "xMidYMid meet",
      "data-width": width,
      "data-height": height,
    });
    this.image = svg("image", { href: imageUrl, x: 0, y: 0, width, height });
    this.image.setAttribute("preserveAspectRatio", "none");
    this.layer = svg("g");
    this.svg.append(this.image, this.layer);
    this.stage = el("div", { class: "stage-inner" }, this.svg);
    this.list = el("div", { class: "box-list" });
    this.svg.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.svg.addEventListener("pointermove", (e) => this.pointerMove(e));
    this.svg.addEventListener("pointerup", (e) => this.pointerUp(e));
    this.svg.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    this.setView(this.view);
  }

  // --- state -------------------------------------------------------------------------------

  snapshot() {
    const { boxes, proposals, nextId, selected } = this;
    return JSON.stringify({ boxes, proposals, nextId, selected });
  }

  restore(snapshot) {
    const s = JSON.parse(snapshot);
    Object.assign(this, { boxes: s.boxes, proposals: s.proposals, nextId: s.nextId });
    this.selected = s.selected;
    if (!this.find(this.selected)) this.selected = null;
    this.render();
  }

  find(id) {
    return this.boxes.find((b) => b.id === id) || this.proposals.find((p) => p.id === id) || null;
  }

  undecided() {
    return this.proposals.filter((p) => p.status === "pending").length;
  }

  // Boxes as the API takes them: whole image pixels, top-left origin.
  result() {
    const boxes = this.boxes.map(({ label, left, top, width, height }) => ({
      label, left, top, width, height,
    }));
    const untouched =
      this.proposals.length > 0 &&
      this.proposals.every((p) => p.status === "accepted") &&
      this.boxes.length === this.proposals.length &&
      this.boxes.every((b) => {
        const p = this.proposals.find((q) => q.id === b.proposal);
        return p && ["label", "left", "top", "width", "height"].every((k) => p[k] === b[k]);
      });
    return { boxes, adjusted: !untouched };
  }

  setLabel(label) {
    this.label = label;
    const box = this.boxes.find((b) => b.id === this.selected);
    if (box && box.label !== label) {
      this.before();
      box.label = label;
    }
    this.render();
  }

  deleteSelected() {
    const index = this.boxes.findIndex((b) => b.id === this.selected);
    if (index < 0) return false;
    this.before();
    const [box] = this.boxes.splice(index, 1);
    const proposal = this.proposals.find((p) => p.id === box.proposal);
    if (proposal) proposal.status = "rejected";
    this.selected = null;
    this.render();
    return true;
  }

  // The selected box moved by (dx, dy) image pixels, or with `resize` its right and bottom
  // edges moved instead; it stays inside the image. False when no box is selected.
  nudgeSelected(dx, dy, resize = false) {
    const box = this.boxes.find((b) => b.id === this.selected);
    if (!box) return false;
    let { left, top } = box;
    let right = left + box.width;
    let bottom = top + box.height;
    if (resize) {
      right = clamp(right + dx, left + MIN_SIZE, this.W);
      bottom = clamp(bottom + dy, top + MIN_SIZE, this.H);
    } else {
      left = clamp(left + dx, 0, this.W - box.width);
      top = clamp(top + dy, 0, this.H - box.height);
      right = left + box.width;
      bottom = top + box.height;
    }
    if (left === box.left && top === box.top && right - left === box.width && bottom - top === box.height) {
      return true;
    }
    this.before();
    this.place(box, left, top, right, bottom);
    this.render();
    return true;
  }

  decide(id, accept) {
    const p = this.proposals.find((q) => q.id === id);
    if (!p || p.status === (accept ? "accepted" : "rejected")) return;
    this.before();
    this.setStatus(p, accept);
    this.render();
  }

  decideAll(accept) {
    const open = this.proposals.filter((p) => p.status !== (accept ? "accepted" : "rejected"));
    if (!open.length) return;
    this.before();
    for (const p of open) this.setStatus(p, accept);
    this.render();
  }

  setStatus(p, accept) {
    p.status = accept ? "accepted" : "rejected";
    if (accept) {
      const { label, left, top, width, height } = p;
      const id = `b${this.nextId++}`;
      this.boxes.push({ id, label, left, top, width, height, proposal: p.id });
      this.selected = id;
    } else {
      this.boxes = this.boxes.filter((b) => b.proposal !== p.id);
    }
  }

  // The selected proposal (or the first undecided one) accepted or rejected.
  decideCurrent(accept) {
    const selected = this.proposals.find((p) => p.id === this.selected && p.status === "pending");
    const target = selected || this.proposals.find((p) => p.status === "pending");
    if (target) this.decide(target.id, accept);
    return Boolean(target);
  }

  selectNext(step = 1) {
    const ids = [
      ...this.proposals.filter((p) => p.status === "pending").map((p) => p.id),
      ...this.boxes.map((b) => b.id),
    ];
    if (!ids.length) return;
    const at = ids.indexOf(this.selected);
    this.selected = ids[(at + step + ids.length) % ids.length];
    this.render();
  }

  deselect() {
    if (this.selected === null) return false;
    this.selected = null;
    this.render();
    return true;
  }

  // --- view --------------------------------------------------------------------------------

  setView(view) {
    this.view = view;
    this.svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
    this.render();
  }

  fit() {
    this.setView({ x: 0, y: 0, w: this.W, h: this.H });
  }

  zoomBy(factor, center) {
    const c = center || { x: this.view.x + this.view.w / 2, y: this.view.y + this.view.h / 2 };
    const w = clamp(this.view.w / factor, 16, this.W * 4);
    const h = (w * this.view.h) / this.view.w;
    const x = c.x - ((c.x - this.view.x) * w) / this.view.w;
    const y = c.y - ((c.y - this.view.y) * h) / this.view.h;
    this.setView({ x, y, w, h });
  }

  scale() {
    const m = this.svg.getScreenCTM();
    return m ? m.a : 1;
  }

  toImage(event) {
    const point = this.svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const m = this.svg.getScreenCTM();
    return m ? point.matrixTransform(m.inverse()) : { x: 0, y: 0 };
  }

  wheel(event) {
    event.preventDefault();
    this.zoomBy(Math.pow(1.0015, -event.deltaY), this.toImage(event));
  }

  // --- pointer -----------------------------------------------------------------------------

  pointerDown(event) {
    const target = event.target;
    const p = this.toImage(event);
    const base = { startX: event.clientX, startY: event.clientY, p0: p, moved: false };
    if (event.button === 1 || this.panKey || (this.readOnly && event.button === 0)) {
      this.drag = { ...base, mode: "pan", view: { ...this.view } };
    } else if (event.button !== 0 || this.readOnly) {
      return;
    } else if (target.dataset.handle) {
      const box = this.find(this.selected);
      this.drag = { ...base, mode: "resize", handle: target.dataset.handle, orig: { ...box } };
    } else if (target.dataset.id && !event.shiftKey) {
      this.selected = target.dataset.id;
      const box = this.boxes.find((b) => b.id === this.selected);
      this.drag = box ? { ...base, mode: "move", orig: { ...box } } : null;
      this.render();
    } else {
      this.drag = { ...base, mode: "draw" };
    }
    if (this.drag) {
      this.svg.setPointerCapture(event.pointerId);
      event.preventDefault();
    }
  }

  pointerMove(event) {
    const d = this.drag;
    if (!d) return;
    if (!d.moved) {
      if (Math.hypot(event.clientX - d.startX, event.clientY - d.startY) < DRAG_THRESHOLD) return;
      d.moved = true;
      if (d.mode !== "pan") this.before();
      if (d.mode === "draw") {
        d.box = { id: `b${this.nextId++}`, label: this.label, proposal: null };
        this.boxes.push(d.box);
        this.selected = d.box.id;
      }
    }
    if (d.mode === "pan") {
      const s = this.scale();
      const dx = (event.clientX - d.startX) / s;
      const dy = (event.clientY - d.startY) / s;
      this.setView({ ...d.view, x: d.view.x - dx, y: d.view.y - dy });
      return;
    }
    const p = this.toImage(event);
    const x = clamp(p.x, 0, this.W);
    const y = clamp(p.y, 0, this.H);
    if (d.mode === "draw") {
      const x0 = clamp(d.p0.x, 0, this.W);
      const y0 = clamp(d.p0.y, 0, this.H);
      this.place(d.box, Math.min(x0, x), Math.min(y0, y), Math.max(x0, x), Math.max(y0, y));
    } else if (d.mode === "move") {
      const box = this.boxes.find((b) => b.id === this.selected);
      const left = clamp(d.orig.left + p.x - d.p0.x, 0, this.W - d.orig.width);
      const top = clamp(d.orig.top + p.y - d.p0.y, 0, this.H - d.orig.height);
      this.place(box, left, top, left + d.orig.width, top + d.orig.height);
    } else if (d.mode === "resize") {
      const box = this.boxes.find((b) => b.id === this.selected);
      let { left: l, top: t } = d.orig;
      let r = d.orig.left + d.orig.width;
      let b = d.orig.top + d.orig.height;
      if (d.handle.includes("w")) l = x;
      if (d.handle.includes("e")) r = x;
      if (d.handle.includes("n")) t = y;
      if (d.handle.includes("s")) b = y;
      this.place(box, Math.min(l, r), Math.min(t, b), Math.max(l, r), Math.max(t, b));
    }
    this.render();
  }

  place(box, left, top, right, bottom) {
    box.left = Math.round(left);
    box.top = Math.round(top);
    box.width = Math.round(right) - box.left;
    box.height = Math.round(bottom) - box.top;
  }

  pointerUp(event) {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (this.svg.hasPointerCapture(event.pointerId)) this.svg.releasePointerCapture(event.pointerId);
    if (d.mode === "draw" && !d.moved) {
      this.deselect();
    } else if (d.mode === "draw" && (d.box.width < MIN_SIZE || d.box.height < MIN_SIZE)) {
      this.boxes = this.boxes.filter((b) => b !== d.box);
      this.selected = null;
    }
    this.render();
  }

  // --- drawing -----------------------------------------------------------------------------

  render() {
    const s = this.scale();
    const font = 13 / s;
    const shapes = [];
    const tag = (x, y, text, color) =>
      svg("text", { x, y: Math.max(y - 4 / s, font), class: "tag", fill: color, "font-size": font }, text);
    for (const p of this.proposals) {
      if (p.status !== "pending" && !this.readOnly) continue;
      const color = labelColor(p.label);
      shapes.push(
        svg("rect", {
          x: p.left, y: p.top, width: p.width, height: p.height, stroke: color,
          class: "proposal" + (p.id === this.selected ? " selected" : ""), "data-id": p.id,
        }),
        tag(p.left, p.top, `${p.label} ${percent(p.confidence)}`.trim(), color),
      );
    }
    for (const b of this.boxes) {
      const color = labelColor(b.label);
      shapes.push(
        svg("rect", {
          x: b.left, y: b.top, width: b.width, height: b.height, stroke: color, fill: color,
          class: "box" + (b.id === this.selected ? " selected" : ""), "data-id": b.id,
        }),
        tag(b.left, b.top, b.label, color),
      );
    }
    const chosen = this.boxes.find((b) => b.id === this.selected);
    if (chosen && !this.readOnly) {
      const size = 9 / s;
      for (const h of HANDLES) {
        const cx = chosen.left + (h.includes("w") ? 0 : h.includes("e") ? chosen.width : chosen.width / 2);
        const cy = chosen.top + (h.includes("n") ? 0 : h.includes("s") ? chosen.height : chosen.height / 2);
        shapes.push(
          svg("rect", {
            x: cx - size / 2, y: cy - size / 2, width: size, height: size,
            class: `handle handle-${h}`, "data-handle": h,
          }),
        );
      }
    }
    this.layer.replaceChildren(...shapes);
    this.renderList();
    this.changed();
  }

  renderList() {
    if (this.readOnly) return;
    const sections = [];
    if (this.proposals.length) {
      const open = this.undecided();
      sections.push(
        el("h3", {}, `Proposals `, el("span", { class: "muted" }, `${open} to decide`)),
        el(
          "div", { class: "row" },
          this.button("Accept all", "Shift+A", () => this.decideAll(true)),
          this.button("None of the above", "N", () => this.decideAll(false)),
        ),
        el("ul", { class: "items" }, this.proposals.map((p) => this.proposalRow(p))),
      );
    }
    sections.push(
      el("h3", {}, "Boxes ", el("span", { class: "muted" }, String(this.boxes.length))),
      this.boxes.length
        ? el("ul", { class: "items" }, this.boxes.map((b) => this.boxRow(b)))
        : el("p", { class: "muted hint" }, "Drag on the image to draw a box."),
    );
    this.list.replaceChildren(...sections);
  }

  button(text, key, action) {
    const b = el("button", { type: "button", class: "small" }, text, " ", el("kbd", {}, key));
    b.addEventListener("click", action);
    return b;
  }

  proposalRow(p) {
    const row = el(
      "li",
      { class: `proposal-row ${p.status}` + (p.id === this.selected ? " selected" : ""), "data-proposal": p.id },
      dot(labelColor(p.label)),
      el("span", { class: "name" }, p.label),
      el("span", { class: "confidence" }, percent(p.confidence)),
      this.iconButton("✓", "Accept (A)", () => this.decide(p.id, true), p.status === "accepted"),
      this.iconButton("✕", "Reject (R)", () => this.decide(p.id, false), p.status === "rejected"),
    );
    row.addEventListener("click", (e) => {
      if (e.target.closest("button")) return;
      this.selected = p.id;
      this.render();
    });
    return row;
  }

  boxRow(b) {
    const row = el(
      "li",
      {
        class: "box-row" + (b.id === this.selected ? " selected" : ""),
        "data-box": b.id, "data-label": b.label,
        "data-left": b.left, "data-top": b.top, "data-width": b.width, "data-height": b.height,
      },
      dot(labelColor(b.label)),
      el("span", { class: "name" }, b.label),
      el("span", { class: "muted coords" }, `${b.left}, ${b.top} · ${b.width}×${b.height}`),
      this.iconButton("✕", "Delete (Del)", () => {
        this.selected = b.id;
        this.deleteSelected();
      }),
    );
    row.addEventListener("click", (e) => {
      if (e.target.closest("button")) return;
      this.selected = b.id;
      this.render();
    });
    return row;
  }

  iconButton(text, title, action, pressed = false) {
    const b = el("button", { type: "button", class: "icon", title, "aria-label": title, "aria-pressed": String(pressed) }, text);
    b.addEventListener("click", action);
    return b;
  }
}
