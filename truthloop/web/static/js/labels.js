// A searchable list of labels; number keys pick among the labels currently shown.

import { el } from "./dom.js";

export class LabelPicker {
  // mode: "one" (a current label), "many" (a set of labels); hints: label -> confidence.
  constructor(container, labels, { mode = "one", searchable = true, hints = {}, onPick }) {
    this.labels = labels;
    this.mode = mode;
    this.hints = hints;
    this.onPick = onPick;
    this.chosen = new Set();
    this.query = "";
    this.search = searchable
      ? el("input", {
          type: "search",
          class: "label-search",
          placeholder: "Search labels  ( / )",
          "aria-label": "Search labels",
        })
      : null;
    this.list = el("ol", { class: "labels" });
    container.replaceChildren(...[this.search, this.list].filter(Boolean));
    if (this.search) {
      this.search.addEventListener("input", () => {
        this.query = this.search.value.trim().toLowerCase();
        this.render();
      });
      this.search.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          event.stopPropagation();
          const first = this.visible()[0];
          if (first !== undefined) this.onPick(first);
          this.search.blur();
        } else if (event.key === "Escape") {
          this.search.value = "";
          this.query = "";
          this.render();
          this.search.blur();
        }
      });
    }
    this.render();
  }

  visible() {
    return this.query
      ? this.labels.filter((label) => label.toLowerCase().includes(this.query))
      : this.labels;
  }

  // Key "1".."9" is the 1st..9th shown label, "0" the 10th.
  byKey(key) {
    const index = key === "0" ? 9 : Number(key) - 1;
    return this.visible()[index];
  }

  focusSearch() {
    if (this.search) this.search.focus();
  }

  setChosen(labels) {
    this.chosen = new Set(labels);
    this.render();
  }

  render() {
    const items = this.visible().map((label, i) => {
      const key = i < 9 ? String(i + 1) : i === 9 ? "0" : "";
      const hint = this.hints[label];
      const button = el(
        "button",
        {
          type: "button",
          class: "label" + (this.chosen.has(label) ? " chosen" : ""),
          "aria-pressed": String(this.chosen.has(label)),
          "data-label": label,
        },
        el("kbd", {}, key),
        el("span", { class: "name" }, label),
        hint === undefined ? null : el("span", { class: "confidence" }, percent(hint)),
      );
      button.addEventListener("click", () => this.onPick(label));
      return el("li", {}, button);
    });
    if (!items.length) items.push(el("li", { class: "muted" }, "No label matches."));
    this.list.replaceChildren(...items);
  }
}

export function percent(confidence) {
  return confidence === null || confidence === undefined
    ? ""
    : `${Math.round(confidence * 100)}%`;
}
