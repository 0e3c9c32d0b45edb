// The annotating elements, on the portal's own annotator parts: crowd-bounding-box is the
// portal's BoxEditor with its LabelPicker and the same keys as its box annotator;
// crowd-image-classifier(-multi-select) and crowd-classifier(-multi-select) pick among
// categories with a LabelPicker (number keys, `/` to search).

import { BoxEditor, viewKey } from "../js/boxes.js";
import { el } from "../js/dom.js";
import { LabelPicker } from "../js/labels.js";
import { CrowdElement, regionHeader, slotRegions, takeKeys } from "./base.js";
import { parseList, parseLiteral } from "./literal.js";

const DIGIT = /^[0-9]$/;
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function loadImage(src) {
  return new Promise((resolve, reject) => {
    if (!src) {
      reject(new Error("no image was given (src)"));
      return;
    }
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`the image could not be loaded: ${src}`));
    image.src = src;
  });
}

function keyTable(rows) {
  return el("details", { class: "crowd-keys" },
    el("summary", {}, "Keyboard"),
    el("table", { class: "keys" }, rows.map(([keys, what]) => el("tr", {}, el("td", {}, keys.map((k) => el("kbd", {}, k))), el("td", {}, what)))));
}

function instructions(host) {
  return [
    el("div", { class: "crowd-short" }, el("slot", { name: "short-instructions" })),
    [...host.children].some((c) => c.localName === "full-instructions")
      ? el("details", { class: "crowd-full" },
        el("summary", {}, regionHeader(host, "full-instructions", "Full instructions")),
        el("slot", { name: "full-instructions" }))
      : null,
  ];
}

function asBox(b) {
  const n = (v) => Math.round(Number(v) || 0);
  return { label: String(b.label ?? ""), left: n(b.left), top: n(b.top), width: n(b.width), height: n(b.height) };
}

function sameBoxes(a, b) {
  const key = (x) => JSON.stringify([x.label, x.left, x.top, x.width, x.height]);
  const sa = a.map(key).sort();
  const sb = b.map(key).sort();
  return sa.length === sb.length && sa.every((k, i) => k === sb[i]);
}

// --- crowd-bounding-box --------------------------------------------------------------------------

export class CrowdBoundingBox extends CrowdElement {
  static get observedAttributes() {
    return ["labels", "header"];
  }

  build() {
    slotRegions(this, ["full-instructions", "short-instructions"]);
    if (!this.hasAttribute("tabindex")) this.tabIndex = 0;
    this.history = [];
    this.labelList = this.labelList || parseList(this.getAttribute("labels"));
    this.initial = [];
    try {
      const parsed = parseLiteral(this.getAttribute("initial-value"));
      this.initial = (Array.isArray(parsed) ? parsed : []).map(asBox);
    } catch (error) {
      this.initialProblem = `initial-value could not be read: ${error.message}`;
    }
    this.header = el("h2", { class: "crowd-header" });
    this.stage = el("div", { class: "stage crowd-stage" }, el("p", { class: "crowd-loading muted" }, "Loading the image…"));
    this.pickerBox = el("div", { class: "picker" });
    this.listBox = el("div");
    this.errorBox = el("p", { class: "crowd-error", role: "alert", hidden: true });
    this.makeShadow(
      this.header,
      el("div", { class: "crowd-annotate" },
        this.stage,
        el("aside", { class: "side" },
          instructions(this)[0],
          el("h3", {}, "Label"), this.pickerBox, this.listBox,
          instructions(this)[1],
          keyTable([
            [["1", "…", "9", "0"], "label to draw with (or of the selected box)"],
            [["/"], "search the labels"],
            [["Tab"], "select the next box"],
            [["←", "↑", "→", "↓"], "move the selected box (Shift: by 10 px)"],
            [["Alt", "←↑→↓"], "resize the selected box"],
            [["Del"], "delete the selected box"],
            [["+", "-", "F"], "zoom in, out, fit"],
            [["Space"], "hold and drag to pan"],
            [["Z"], "undo"],
            [["Esc"], "deselect"],
          ])),
      ),
      this.errorBox,
    );
    this.attributeChangedCallback();
    this.adoptProperty("labels");
    takeKeys(this);
    loadImage(this.getAttribute("src"))
      .then((image) => this.start(image))
      .catch((error) => {
        this.stage.replaceChildren(el("p", { class: "crowd-loading" }, error.message));
        this.showError(error.message);
      })
      .finally(() => this.markReady());
  }

  attributeChangedCallback(name) {
    if (!this.header) return;
    this.header.textContent = this.attr("header");
    this.header.hidden = !this.attr("header");
    if (name === "labels") this.labels = this.getAttribute("labels");
  }

  start(image) {
    this.imageSize = { width: image.naturalWidth, height: image.naturalHeight };
    this.editor = new BoxEditor({
      width: image.naturalWidth, height: image.naturalHeight, imageUrl: image.src,
      label: this.labelList[0], before: () => this.remember(), changed: () => this.changed(),
    });
    const boxes = this.initial.map((b, i) => ({ id: `b${i + 1}`, ...b, proposal: null }));
    this.editor.restore(JSON.stringify({ boxes, proposals: [], nextId: boxes.length + 1, selected: null }));
    this.picker = new LabelPicker(this.pickerBox, this.labelList, { onPick: (label) => this.pick(label) });
    this.picker.setChosen(this.labelList.length ? [this.labelList[0]] : []);
    this.stage.replaceChildren(this.editor.stage);
    this.listBox.replaceChildren(this.editor.list);
    if (this.initialProblem) this.showError(this.initialProblem);
    requestAnimationFrame(() => this.editor.fit());
    new ResizeObserver(() => this.editor.render()).observe(this.stage);
  }

  remember() {
    this.history.push(this.editor.snapshot());
    if (this.history.length > 500) this.history.shift();
  }

  undo() {
    const snapshot = this.history.pop();
    if (snapshot && this.editor) this.editor.restore(snapshot);
  }

  changed() {
    if (this.hasAttribute("invalid")) this.validate();
  }

  pick(label) {
    if (label === undefined || !this.editor) return;
    this.editor.setLabel(label);
    this.picker.setChosen([label]);
  }

  get labels() {
    return [...(this.labelList || [])];
  }

  // Writable from template scripts (on all-crowd-elements-ready, typically): the label list
  // shown changes; boxes keep their labels.
  set labels(value) {
    this.labelList = parseList(value);
    if (!this.picker) return;
    this.picker.labels = this.labelList;
    if (!this.labelList.includes(this.editor.label)) {
      this.editor.label = this.labelList[0];
    }
    this.picker.setChosen(this.editor.label === undefined ? [] : [this.editor.label]);
  }

  handleKey(event) {
    const e = this.editor;
    if (!e) return false;
    const key = event.key;
    if (key in ARROWS && !event.ctrlKey && !event.metaKey) {
      const step = event.shiftKey ? 10 : 1;
      const [dx, dy] = ARROWS[key];
      return e.nudgeSelected(dx * step, dy * step, event.altKey);
    }
    if (DIGIT.test(key)) this.pick(this.picker.byKey(key));
    else if (key === "/") this.picker.focusSearch();
    else if (key === "Delete" || key === "Backspace") e.deleteSelected();
    else if (key === "Tab") {
      if (!e.boxes.length) return false;
      e.selectNext(event.shiftKey ? -1 : 1);
    } else if (key === "z" || key === "Z") this.undo();
    else if (key === "Escape") return e.deselect();
    else return viewKey(e, key);
    return true;
  }

  handleKeyUp(event) {
    if (this.editor && event.key === " ") this.editor.panKey = false;
  }

  // { boundingBoxes: [{height, label, left, top, width}], inputImageProperties: {height,
  // width} } and, when the template gave an initial-value, initialValueModified.
  get value() {
    if (!this.editor) return undefined;
    const boxes = this.editor.result().boxes.map((b) => ({
      height: b.height, label: b.label, left: b.left, top: b.top, width: b.width,
    }));
    const value = {
      boundingBoxes: boxes,
      inputImageProperties: { height: this.imageSize.height, width: this.imageSize.width },
    };
    if (this.hasAttribute("initial-value")) value.initialValueModified = !sameBoxes(boxes, this.initial);
    return value;
  }

  validate() {
    let problem = "";
    if (!this.editor) problem = "The image could not be loaded.";
    else if (this.hasAttribute("required") && !this.editor.boxes.length) problem = "Draw at least one box.";
    this.showError(problem);
    return problem;
  }

  contribute(output) {
    const name = this.getAttribute("name");
    const value = this.value;
    if (name && value) output[name] = value;
  }
}

// --- classifiers -----------------------------------------------------------------------------------

class Classifier extends CrowdElement {
  // image: the content is the `src` image (else the classification-target region);
  // multi: several categories, output {labels: [...]} (else {label}).
  static get options() {
    return { image: false, multi: false };
  }

  static get observedAttributes() {
    return ["header"];
  }

  build() {
    const { image, multi } = this.constructor.options;
    this.multi = multi;
    slotRegions(this, ["full-instructions", "short-instructions", "classification-target", "worker-comment"]);
    if (!this.hasAttribute("tabindex")) this.tabIndex = 0;
    this.categories = this.categories || parseList(this.getAttribute("categories"));
    this.exclusion = null;
    if (multi && this.hasAttribute("exclusion-category")) {
      try {
        const parsed = parseLiteral(this.getAttribute("exclusion-category"));
        this.exclusion = parsed && typeof parsed === "object" ? String(parsed.text ?? "") : String(parsed ?? "");
      } catch {
        this.exclusion = this.getAttribute("exclusion-category");
      }
      if (!this.exclusion) this.exclusion = "None of the above";
    }
    this.chosen = new Set();
    this.header = el("h2", { class: "crowd-header" });
    this.stage = image
      ? el("div", { class: "stage crowd-stage" }, el("p", { class: "crowd-loading muted" }, "Loading the image…"))
      : el("div", { class: "card crowd-target" }, el("slot", { name: "classification-target" }));
    const pickerBox = el("div", { class: "picker" });
    const options = this.exclusion ? [...this.categories, this.exclusion] : this.categories;
    this.picker = new LabelPicker(pickerBox, options, {
      mode: multi ? "many" : "one", searchable: options.length > 9, onPick: (label) => this.pick(label),
    });
    this.comment = this.commentPanel();
    this.errorBox = el("p", { class: "crowd-error", role: "alert", hidden: true });
    this.makeShadow(
      this.header,
      el("div", { class: `crowd-annotate${image ? "" : " crowd-text-target"}` },
        this.stage,
        el("aside", { class: "side" },
          instructions(this)[0],
          el("h3", {}, multi ? "Every category that applies" : "Category"),
          pickerBox,
          this.comment ? this.comment.box : null,
          instructions(this)[1],
          keyTable([
            [["1", "…", "9", "0"], multi ? "turn a category on or off" : "choose a category"],
            ...(options.length > 9 ? [[["/"], "search the categories"]] : []),
            ...(this.comment ? [[["C"], "write a comment"]] : []),
            ...(image ? [[["+", "-", "F"], "zoom in, out, fit"]] : []),
            [["Enter"], "submit"],
          ])),
      ),
      this.errorBox,
    );
    this.attributeChangedCallback();
    takeKeys(this);
    if (!image) {
      this.markReady();
      return;
    }
    loadImage(this.getAttribute("src"))
      .then((img) => this.showImage(img))
      .catch((error) => {
        this.stage.replaceChildren(el("p", { class: "crowd-loading" }, error.message));
      })
      .finally(() => this.markReady());
  }

  attributeChangedCallback() {
    if (!this.header) return;
    this.header.textContent = this.attr("header");
    this.header.hidden = !this.attr("header");
  }

  // The overlay of a verification task: the boxes of a bounding-box task, drawn read-only
  // over the image, or a semantic segmentation's label image laid over it.
  showImage(image) {
    let overlay = null;
    try {
      overlay = parseLiteral(this.getAttribute("overlay"));
    } catch (error) {
      this.showError(`overlay could not be read: ${error.message}`);
    }
    const boxes = overlay && overlay.boundingBox && Array.isArray(overlay.boundingBox.value) ? overlay.boundingBox.value : null;
    if (boxes) {
      this.viewer = new BoxEditor({
        width: image.naturalWidth, height: image.naturalHeight, imageUrl: image.src,
        proposals: boxes.map(asBox), readOnly: true,
      });
      this.stage.replaceChildren(this.viewer.stage);
      requestAnimationFrame(() => this.viewer.fit());
      return;
    }
    const layers = [el("img", { class: "photo", src: image.src, alt: this.attr("header", "image to classify"), draggable: "false" })];
    const mask = overlay && overlay.semanticSegmentation && overlay.semanticSegmentation.src;
    if (mask) layers.push(el("img", { class: "photo crowd-mask", src: mask, alt: "", draggable: "false" }));
    this.stage.replaceChildren(el("div", { class: "stage-inner" }, layers));
  }

  // worker-comment: a link that opens a comment box (header, link-text, placeholder; its text
  // says what the comment should hold). Output as workerComment, only when written.
  commentPanel() {
    const region = [...this.children].find((c) => c.localName === "worker-comment");
    if (!region) return null;
    const text = el("textarea", {
      class: "comment", rows: 3, placeholder: region.getAttribute("placeholder") || "", "aria-label": region.getAttribute("header") || "Comment",
    });
    const panel = el("div", { class: "crowd-comment", hidden: true },
      el("h3", {}, region.getAttribute("header") || "Add a comment"),
      el("div", { class: "muted hint" }, el("slot", { name: "worker-comment" })),
      text);
    const link = el("button", { type: "button", class: "link crowd-comment-link" }, region.getAttribute("link-text") || "Add a comment");
    link.addEventListener("click", () => {
      panel.hidden = false;
      link.hidden = true;
      text.focus();
    });
    return { box: el("div", {}, link, panel), text, open: () => link.click() };
  }

  pick(label) {
    if (label === undefined) return;
    if (!this.multi) this.chosen = new Set([label]);
    else if (this.chosen.has(label)) this.chosen.delete(label);
    else if (label === this.exclusion) this.chosen = new Set([label]);
    else {
      this.chosen.delete(this.exclusion);
      this.chosen.add(label);
    }
    this.picker.setChosen(this.chosen);
    if (this.hasAttribute("invalid")) this.validate();
    this.dispatchEvent(new Event("change", { bubbles: true }));
  }

  handleKey(event) {
    const key = event.key;
    if (DIGIT.test(key)) this.pick(this.picker.byKey(key));
    else if (key === "/") this.picker.focusSearch();
    else if (this.comment && (key === "c" || key === "C")) this.comment.open();
    else return Boolean(this.viewer) && viewKey(this.viewer, key);
    return true;
  }

  handleKeyUp(event) {
    if (this.viewer && event.key === " ") this.viewer.panKey = false;
  }

  get value() {
    const chosen = this.picker ? this.picker.labels.filter((l) => this.chosen.has(l)) : [];
    const value = this.multi ? { labels: chosen } : chosen.length ? { label: chosen[0] } : undefined;
    const comment = this.comment ? this.comment.text.value.trim() : "";
    if (value && comment) value.workerComment = comment;
    return value;
  }

  // A classifier always needs an answer: one category, or at least one of a multi-select.
  validate() {
    const problem = this.chosen.size ? "" : this.multi ? "Choose at least one category." : "Choose a category.";
    this.showError(problem);
    return problem;
  }

  contribute(output) {
    const name = this.getAttribute("name");
    const value = this.value;
    if (name && value) output[name] = value;
  }
}

export class CrowdImageClassifier extends Classifier {
  static get options() {
    return { image: true, multi: false };
  }
}

export class CrowdImageClassifierMultiSelect extends Classifier {
  static get options() {
    return { image: true, multi: true };
  }
}

export class CrowdClassifier extends Classifier {}

export class CrowdClassifierMultiSelect extends Classifier {
  static get options() {
    return { image: false, multi: true };
  }
}
