// One annotator per task type. Each gives the page a stage (the image), a side panel, its
// keyboard handling, an answer for the API, and snapshots for undo.

import { BoxEditor, viewKey } from "./boxes.js";
import { el } from "./dom.js";
import { LabelPicker, percent } from "./labels.js";

const DIGIT = /^[0-9]$/;

function proposalBoxes(proposals) {
  return proposals && proposals.kind === "boxes" ? proposals.boxes : [];
}

// label -> confidence for whole-image proposals (classification or multi-label).
function proposalHints(proposals) {
  if (!proposals) return {};
  if (proposals.kind === "classification") return { [proposals.label]: proposals.confidence };
  if (proposals.kind === "multilabel") {
    return Object.fromEntries(proposals.labels.map((l, i) => [l, (proposals.confidences || [])[i]]));
  }
  return {};
}

function imageStage(task) {
  return el("div", { class: "stage-inner" },
    el("img", { class: "photo", src: task.image_url, alt: `image of task ${task.task_id}`, draggable: "false" }));
}

class BoxAnnotator {
  constructor(task, before) {
    this.task = task;
    this.editor = new BoxEditor({
      width: task.width, height: task.height, imageUrl: task.image_url,
      proposals: proposalBoxes(task.proposals), label: task.labels[0], before,
    });
    const pickerBox = el("div", { class: "picker" });
    this.picker = new LabelPicker(pickerBox, task.labels, { onPick: (l) => this.pick(l) });
    this.picker.setChosen([task.labels[0]]);
    this.stage = this.editor.stage;
    this.side = el("div", {}, el("h3", {}, "Label"), pickerBox, this.editor.list);
  }

  pick(label) {
    if (label === undefined) return;
    this.editor.setLabel(label);
    this.picker.setChosen([label]);
  }

  shown() {
    this.editor.fit();
  }

  handleKey(event) {
    const e = this.editor;
    const key = event.key;
    if (DIGIT.test(key)) this.pick(this.picker.byKey(key));
    else if (key === "/") this.picker.focusSearch();
    else if (key === "Delete" || key === "Backspace") e.deleteSelected();
    else if (key === "A") e.decideAll(true);
    else if (key === "a") e.decideCurrent(true);
    else if (key === "r" || key === "R") e.decideCurrent(false);
    else if (key === "n" || key === "N") e.decideAll(false);
    else if (key === "Tab") e.selectNext(event.shiftKey ? -1 : 1);
    else if (key === "Escape") return e.deselect();
    else return viewKey(e, key);
    return true;
  }

  handleKeyUp(event) {
    if (event.key === " ") this.editor.panKey = false;
  }

  answer() {
    const open = this.editor.undecided();
    if (open) {
      return { error: `${open} proposal${open > 1 ? "s" : ""} still to decide: accept (A) or reject (R) each, or all at once (Shift+A / N).` };
    }
    const { boxes, adjusted } = this.editor.result();
    const isAdjustment = this.task.task_type === "box-adjustment";
    return { answer: { kind: "boxes", boxes, adjusted: isAdjustment ? adjusted : null } };
  }

  snapshot() {
    return this.editor.snapshot();
  }

  restore(snapshot) {
    this.editor.restore(snapshot);
  }
}

class ClassifyAnnotator {
  constructor(task, before, multi) {
    this.task = task;
    this.before = before;
    this.multi = multi;
    this.chosen = new Set();
    this.hints = proposalHints(task.proposals);
    const pickerBox = el("div", { class: "picker" });
    this.picker = new LabelPicker(pickerBox, task.labels, {
      mode: multi ? "many" : "one", hints: this.hints, onPick: (l) => this.pick(l),
    });
    this.stage = imageStage(task);
    this.side = el("div", {},
      el("h3", {}, multi ? "Every label that applies" : "The label of this image"),
      this.suggestion(), pickerBox);
  }

  suggestion() {
    const labels = Object.keys(this.hints);
    if (!labels.length) return null;
    const accept = el("button", { type: "button", class: "small" }, "Accept ", el("kbd", {}, "A"));
    accept.addEventListener("click", () => this.acceptSuggestion());
    return el("div", { class: "suggestion" },
      el("span", { class: "muted" }, "Suggested: "),
      labels.map((l) => el("span", { class: "chip" }, l, " ", el("span", { class: "confidence" }, percent(this.hints[l])))),
      accept);
  }

  pick(label) {
    if (label === undefined) return;
    this.before();
    if (!this.multi) this.chosen = new Set([label]);
    else if (this.chosen.has(label)) this.chosen.delete(label);
    else this.chosen.add(label);
    this.render();
  }

  acceptSuggestion() {
    const labels = Object.keys(this.hints).filter((l) => this.task.labels.includes(l));
    if (!labels.length) return;
    this.before();
    this.chosen = new Set(this.multi ? labels : labels.slice(0, 1));
    this.render();
  }

  render() {
    this.picker.setChosen(this.chosen);
  }

  handleKey(event) {
    const key = event.key;
    if (DIGIT.test(key)) this.pick(this.picker.byKey(key));
    else if (key === "/") this.picker.focusSearch();
    else if (key === "a" || key === "A") this.acceptSuggestion();
    else return false;
    return true;
  }

  answer() {
    if (!this.multi) {
      const [label] = this.chosen;
      return label === undefined
        ? { error: "Pick a label first (number keys, or click one)." }
        : { answer: { kind: "classification", label } };
    }
    if (!this.chosen.size) return { error: "Pick every label that applies (number keys)." };
    return { answer: { kind: "multilabel", labels: [...this.chosen] } };
  }

  snapshot() {
    return JSON.stringify([...this.chosen]);
  }

  restore(snapshot) {
    this.chosen = new Set(JSON.parse(snapshot));
    this.render();
  }
}

class VerifyAnnotator {
  constructor(task, before) {
    this.task = task;
    this.before = before;
    this.verdict = null;
    const boxes = proposalBoxes(task.proposals);
    if (task.proposals && task.proposals.kind === "boxes") {
      this.viewer = new BoxEditor({
        width: task.width, height: task.height, imageUrl: task.image_url, proposals: boxes, readOnly: true,
      });
      this.stage = this.viewer.stage;
    } else {
      this.stage = imageStage(task);
    }
    const pickerBox = el("div", { class: "picker" });
    this.picker = new LabelPicker(pickerBox, task.verification_categories, {
      searchable: false, onPick: (c) => this.choose(c),
    });
    this.comment = el("textarea", { class: "comment", rows: 3, placeholder: "Comment (optional)  ( C )", maxlength: 2000, "aria-label": "Comment" });
    this.side = el("div", {},
      el("h3", {}, "Is this labeling right?"), this.summary(),
      el("h3", {}, "Your verdict"), pickerBox, this.comment);
  }

  summary() {
    const p = this.task.proposals;
    if (!p) return el("p", { class: "muted" }, "Nothing to verify was attached to this task.");
    let rows = [];
    if (p.kind === "boxes") rows = p.boxes.map((b) => [b.label, b.confidence]);
    else if (p.kind === "classification") rows = [[p.label, p.confidence]];
    else if (p.kind === "multilabel") rows = p.labels.map((l, i) => [l, (p.confidences || [])[i]]);
    return el("ul", { class: "items proposal-summary" },
      rows.length ? rows.map(([l, c]) => el("li", {}, el("span", { class: "name" }, l), el("span", { class: "confidence" }, percent(c))))
        : el("li", { class: "muted" }, "No labels: the image was judged empty."));
  }

  shown() {
    if (this.viewer) this.viewer.fit();
  }

  choose(category) {
    if (category === undefined) return;
    this.before();
    this.verdict = category;
    this.picker.setChosen([category]);
  }

  handleKey(event) {
    const key = event.key;
    if (DIGIT.test(key)) this.choose(this.picker.byKey(key));
    else if (key === "c" || key === "C") this.comment.focus();
    else return Boolean(this.viewer) && viewKey(this.viewer, key);
    return true;
  }

  handleKeyUp(event) {
    if (this.viewer && event.key === " ") this.viewer.panKey = false;
  }

  answer() {
    if (this.verdict === null) return { error: "Choose a verdict first (1, 2, …)." };
    const comment = this.comment.value.trim();
    return {
      answer: {
        kind: "verification",
        verdict: this.verdict,
        verdict_id: this.task.verification_categories.indexOf(this.verdict),
        comment,
      },
    };
  }

  snapshot() {
    return JSON.stringify({ verdict: this.verdict });
  }

  restore(snapshot) {
    this.verdict = JSON.parse(snapshot).verdict;
    this.picker.setChosen(this.verdict === null ? [] : [this.verdict]);
  }
}

export function makeAnnotator(task, before) {
  switch (task.task_type) {
    case "bounding-box":
    case "box-adjustment":
      return new BoxAnnotator(task, before);
    case "classification":
      return new ClassifyAnnotator(task, before, false);
    case "multilabel":
      return new ClassifyAnnotator(task, before, true);
    case "label-verification":
      return new VerifyAnnotator(task, before);
    default:
      throw new Error(`no annotator for task type ${task.task_type}`);
  }
}
