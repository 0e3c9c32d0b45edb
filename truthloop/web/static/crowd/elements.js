// crowd-form, the element registry, and the frame's side of the postMessage protocol (see
// crowd-html-elements.js for the protocol itself).

import { el } from "../js/dom.js";
import {
  CrowdBoundingBox, CrowdClassifier, CrowdClassifierMultiSelect, CrowdImageClassifier,
  CrowdImageClassifierMultiSelect,
} from "./annotate.js";
import { CrowdElement, installKeyboard } from "./base.js";
import {
  CrowdAlert, CrowdButton, CrowdCard, CrowdCheckbox, CrowdInput, CrowdInstructions,
  CrowdRadioButton, CrowdRadioGroup, CrowdSlider, CrowdTextArea, Region,
} from "./fields.js";

const FRAME = "truthloop-crowd";
const PORTAL = "truthloop-portal";

function post(message) {
  window.parent.postMessage({ source: FRAME, ...message }, "*");
}

const SUBMIT_BUTTONS = 'crowd-button[form-action="submit"], button[type="submit"], button:not([type]), input[type="submit"], input[type="image"]';
const SKIPPED_INPUTS = new Set(["submit", "button", "reset", "image", "file"]);

// The native named controls of a form, as the browser would submit them: unchecked boxes and
// radios left out, one name given twice (several boxes, a multiple select) an array.
function nativeAnswers(form, output) {
  const seen = new Map();
  const add = (name, value) => {
    if (seen.has(name)) {
      const prior = seen.get(name);
      seen.set(name, Array.isArray(prior) ? [...prior, value] : [prior, value]);
    } else {
      seen.set(name, value);
    }
  };
  for (const control of form.elements) {
    const tag = control.localName;
    if (!["input", "select", "textarea"].includes(tag) || !control.name || control.disabled) continue;
    if (tag === "input") {
      const type = control.type;
      if (SKIPPED_INPUTS.has(type)) continue;
      if ((type === "checkbox" || type === "radio") && !control.checked) continue;
      add(control.name, control.value);
    } else if (tag === "select" && control.multiple) {
      for (const option of control.selectedOptions) add(control.name, option.value);
    } else {
      add(control.name, control.value);
    }
  }
  for (const [name, value] of seen) output[name] = value;
}

export class CrowdForm extends CrowdElement {
  build() {
    const form = el("form", { class: "crowd-inner-form", novalidate: true });
    const regions = [];
    for (const child of [...this.childNodes]) {
      if (child.nodeType === Node.ELEMENT_NODE && ["short-instructions", "full-instructions"].includes(child.localName)) {
        child.slot = child.localName;
        regions.push(child);
      } else {
        form.append(child);
      }
    }
    this.append(form);
    this.innerForm = form;
    // The inner form never navigates: its submit (a native submit button, Enter in a native
    // field, a template calling form.submit()) runs the crowd-form's own.
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      event.stopPropagation();
      this.submit();
    });
    form.submit = () => this.submit();
    this.state = "idle";
    this.status = el("p", { class: "status crowd-status", role: "status", "aria-live": "polite", hidden: true });
    this.submitButton = el("button", { type: "button", class: "primary crowd-submit" }, "Submit");
    this.submitButton.addEventListener("click", () => this.submit());
    const full = regions.find((r) => r.localName === "full-instructions");
    this.instructionsBox = el("div", { class: "card crowd-form-instructions", hidden: !regions.length },
      el("slot", { name: "short-instructions" }),
      full
        ? el("details", {}, el("summary", {}, full.getAttribute("header") || "Full instructions"), el("slot", { name: "full-instructions" }))
        : null);
    this.makeShadow(
      this.instructionsBox,
      el("slot"),
      el("div", { class: "crowd-form-footer" }, this.status, this.submitButton),
    );
    this.refreshSubmitButton();
    window.addEventListener("message", (event) => this.answered(event));
    this.markReady();
  }

  get form() {
    return this.innerForm || null;
  }

  // Its own submit button, unless the template has one.
  refreshSubmitButton() {
    this.submitButton.hidden = Boolean(this.innerForm.querySelector(SUBMIT_BUTTONS));
  }

  // Every crowd element in the form that answers or validates, in document order.
  parts() {
    return [...this.innerForm.querySelectorAll("*")].filter((node) => node instanceof CrowdElement);
  }

  setStatus(text, kind = "info") {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
    this.status.hidden = !text;
  }

  setBusy(busy) {
    this.submitButton.disabled = busy;
    for (const button of this.innerForm.querySelectorAll('crowd-button[form-action="submit"]')) {
      button.toggleAttribute("loading", busy && this.state === "submitting");
      button.toggleAttribute("disabled", busy);
    }
    for (const button of this.innerForm.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]')) {
      button.disabled = busy;
    }
  }

  // Required elements and native constraints; each problem shown where it is, and counted here.
  validate() {
    const problems = [];
    for (const part of this.parts()) {
      if (typeof part.validate !== "function") continue;
      const problem = part.validate();
      if (problem) problems.push({ node: part, problem });
    }
    for (const control of this.innerForm.elements) {
      if (!["input", "select", "textarea"].includes(control.localName)) continue;
      if (!control.checkValidity()) {
        problems.push({ node: control, problem: control.validationMessage });
      }
    }
    return problems;
  }

  // The output object, as A2I stores it in answerContent.
  collect() {
    const output = {};
    for (const part of this.parts()) {
      if (typeof part.contribute === "function") part.contribute(output);
    }
    nativeAnswers(this.innerForm, output);
    return JSON.parse(JSON.stringify(output));
  }

  submit() {
    if (this.state !== "idle") return false;
    const problems = this.validate();
    if (problems.length) {
      const first = problems[0];
      this.setStatus(
        problems.length === 1
          ? `Fix this before submitting: ${first.problem}`
          : `Fix these ${problems.length} answers before submitting (first: ${first.problem})`,
        "error",
      );
      first.node.scrollIntoView({ block: "center" });
      if (typeof first.node.focus === "function") first.node.focus();
      return false;
    }
    // Template scripts listen for this (crowd-form.onsubmit); preventDefault() keeps it here.
    if (!this.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }))) return false;
    const answer = this.collect();
    this.state = "submitting";
    this.setBusy(true);
    this.setStatus("Submitting…");
    post({ type: "submit", answer });
    return true;
  }

  answered(event) {
    if (event.source !== window.parent || window.parent === window) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.source !== PORTAL || this.state !== "submitting") return;
    if (data.type === "submitted") {
      this.state = "done";
      this.setStatus("Submitted ✓ Thank you.", "ok");
      this.innerForm.inert = true;
      this.setAttribute("submitted", "");
    } else if (data.type === "refused") {
      this.state = "idle";
      this.setBusy(false);
      this.setStatus(`Not submitted: ${data.message || "the portal refused the answer."} Fix it and submit again.`, "error");
    }
  }

  reset() {
    if (this.state !== "idle") return;
    this.innerForm.reset();
    this.dispatchEvent(new Event("reset", { bubbles: true }));
  }
}

const ELEMENTS = {
  "crowd-form": CrowdForm,
  "crowd-bounding-box": CrowdBoundingBox,
  "crowd-image-classifier": CrowdImageClassifier,
  "crowd-image-classifier-multi-select": CrowdImageClassifierMultiSelect,
  "crowd-classifier": CrowdClassifier,
  "crowd-classifier-multi-select": CrowdClassifierMultiSelect,
  "crowd-input": CrowdInput,
  "crowd-text-area": CrowdTextArea,
  "crowd-checkbox": CrowdCheckbox,
  "crowd-radio-group": CrowdRadioGroup,
  "crowd-radio-button": CrowdRadioButton,
  "crowd-slider": CrowdSlider,
  "crowd-button": CrowdButton,
  "crowd-card": CrowdCard,
  "crowd-alert": CrowdAlert,
  "crowd-instructions": CrowdInstructions,
};
const REGIONS = [
  "full-instructions", "short-instructions", "short-summary", "detailed-instructions",
  "positive-example", "negative-example",
];

function submitFor(widget) {
  const form = (widget && widget.closest("crowd-form")) || document.querySelector("crowd-form");
  return form instanceof CrowdForm ? form.submit() || true : false;
}

let started = false;

export async function start() {
  if (started) return;
  started = true;
  for (const [name, cls] of Object.entries(ELEMENTS)) {
    if (!customElements.get(name)) customElements.define(name, cls);
  }
  for (const name of REGIONS) {
    if (!customElements.get(name)) customElements.define(name, class extends Region {});
  }
  installKeyboard(submitFor);
  const all = [...document.querySelectorAll("*")];
  await Promise.all(all.filter((node) => node instanceof CrowdElement).map((node) => node.ready));
  const unknown = [...new Set(all.map((n) => n.localName).filter((n) => n.startsWith("crowd-") && !customElements.get(n)))];
  for (const form of document.querySelectorAll("crowd-form")) {
    form.refreshSubmitButton();
    if (unknown.length) form.setStatus(`Not available here: ${unknown.join(", ")}.`, "warn");
  }
  if (unknown.length) console.warn("truthloop crowd elements: not implemented:", unknown);
  document.dispatchEvent(new CustomEvent("all-crowd-elements-ready", { bubbles: true }));
  post({ type: "ready" });
}
