// The form fields and the presentational elements: crowd-input, crowd-text-area,
// crowd-checkbox, crowd-radio-group / crowd-radio-button, crowd-slider, crowd-button,
// crowd-card, crowd-alert, crowd-instructions, and the instruction regions.
//
// A field takes part in its crowd-form through two methods: contribute(output) adds its
// answer to the output object (as AWS's reference documents each element's output), and
// validate() returns what is wrong ("" when nothing), showing it under the field.

import { el } from "../js/dom.js";
import { CrowdElement } from "./base.js";

function merge(output, name, key, value) {
  const current = output[name];
  output[name] = { ...(current && typeof current === "object" && !Array.isArray(current) ? current : {}), [key]: value };
}

// --- crowd-input / crowd-text-area --------------------------------------------------------------

class TextField extends CrowdElement {
  static get observedAttributes() {
    return ["disabled", "placeholder", "label"];
  }

  build() {
    const multiline = this.localName === "crowd-text-area";
    const type = multiline ? null : this.attr("type", "text");
    this.control = multiline
      ? el("textarea", { rows: this.attr("rows", "2") })
      : el("input", { type });
    const max = this.getAttribute("max-length");
    if (max !== null) this.control.maxLength = Number(max);
    if (this.getAttribute("min-length") !== null) this.control.minLength = Number(this.getAttribute("min-length"));
    for (const name of ["min", "max", "step", "pattern"]) {
      if (!multiline && this.hasAttribute(name)) this.control.setAttribute(name, this.getAttribute(name));
    }
    this.caption = el("span", { class: "crowd-label" });
    this.counter = multiline && this.flag("char-counter") ? el("span", { class: "crowd-counter muted" }) : null;
    this.errorBox = el("p", { class: "crowd-error", role: "alert", hidden: true });
    this.makeShadow(
      el("label", { class: "crowd-field" }, this.caption, this.control),
      this.counter,
      this.errorBox,
    );
    if (multiline && this.hasAttribute("max-rows")) {
      this.control.style.maxHeight = `calc(${Number(this.getAttribute("max-rows"))} * 1.45em + 1rem)`;
    }
    const initial = this.pendingValue ?? this.getAttribute("value");
    if (initial !== null && initial !== undefined) this.control.value = String(initial);
    this.adoptProperty("value");
    this.control.addEventListener("input", () => this.typed());
    this.control.addEventListener("keydown", (event) => {
      if (!multiline && event.key === "Enter") {
        event.preventDefault();
        if (this.form) this.form.submit();
      } else if (multiline && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (this.form) this.form.submit();
      }
    });
    this.refresh();
    if (this.flag("auto-focus")) requestAnimationFrame(() => this.control.focus());
    this.markReady();
  }

  attributeChangedCallback() {
    if (this.control) this.refresh();
  }

  refresh() {
    this.control.disabled = this.flag("disabled");
    this.control.placeholder = this.attr("placeholder");
    const label = this.attr("label");
    this.caption.textContent = label;
    this.caption.hidden = !label;
    if (!this.control.getAttribute("aria-label") && !label && this.getAttribute("name")) {
      this.control.setAttribute("aria-label", this.getAttribute("name"));
    }
    if (this.counter) this.counter.textContent = `${this.control.value.length}${this.control.maxLength > 0 ? ` / ${this.control.maxLength}` : ""}`;
  }

  typed() {
    const allowed = this.getAttribute("allowed-pattern");
    if (allowed && this.flag("auto-validate")) {
      let re;
      try {
        re = new RegExp(allowed);
      } catch {
        re = null;
      }
      if (re) {
        const kept = [...this.control.value].filter((ch) => re.test(ch)).join("");
        if (kept !== this.control.value) this.control.value = kept;
      }
    }
    this.refresh();
    if (this.flag("auto-validate") || this.hasAttribute("invalid")) this.validate();
    this.dispatchEvent(new Event("change", { bubbles: true }));
  }

  get value() {
    return this.control ? this.control.value : (this.pendingValue ?? this.attr("value"));
  }

  set value(v) {
    if (this.control) {
      this.control.value = v === null || v === undefined ? "" : String(v);
      this.refresh();
    } else {
      this.pendingValue = v;
    }
  }

  validate() {
    if (!this.control || this.control.disabled) return "";
    const text = this.control.value;
    let problem = "";
    if (this.hasAttribute("required") && !text.trim()) problem = "This field is required.";
    else if (text && !this.control.checkValidity()) problem = this.control.validationMessage || "This value is not valid.";
    if (problem && this.getAttribute("error-message")) problem = this.getAttribute("error-message");
    this.showError(problem);
    return problem;
  }

  contribute(output) {
    const name = this.getAttribute("name");
    if (!name || !this.control || this.control.disabled) return;
    const text = this.control.value;
    if (text === "") return; // AWS: a field left empty does not appear in the output.
    const type = this.localName === "crowd-input" ? this.attr("type", "text") : "text";
    if ((type === "number" || type === "range") && text.trim() !== "" && Number.isFinite(Number(text))) {
      output[name] = Number(text);
    } else {
      output[name] = text;
    }
  }

  focus() {
    if (this.control) this.control.focus();
  }
}

export class CrowdInput extends TextField {}
export class CrowdTextArea extends TextField {}

// --- crowd-checkbox / crowd-radio-button / crowd-radio-group -------------------------------------

class Toggle extends CrowdElement {
  static get observedAttributes() {
    return ["disabled"];
  }

  build() {
    const radio = this.localName === "crowd-radio-button";
    this.control = el("input", { type: radio ? "radio" : "checkbox" });
    this.control.checked = this.pendingChecked ?? this.flag("checked");
    this.errorBox = el("p", { class: "crowd-error", role: "alert", hidden: true });
    this.makeShadow(el("label", { class: "crowd-toggle" }, this.control, el("span", {}, el("slot"))), this.errorBox);
    this.adoptProperty("checked");
    this.control.addEventListener("change", () => {
      if (radio && this.control.checked) this.uncheckOthers();
      if (this.hasAttribute("invalid") || (this.group && this.group.hasAttribute("invalid"))) {
        (this.group || this).validate();
      }
      this.dispatchEvent(new Event("change", { bubbles: true }));
    });
    this.attributeChangedCallback();
    this.markReady();
  }

  attributeChangedCallback() {
    if (this.control) this.control.disabled = this.flag("disabled");
  }

  get group() {
    return this.closest("crowd-radio-group");
  }

  // Exclusive within its crowd-radio-group; outside one, among radio buttons of its name.
  uncheckOthers() {
    const scope = this.group || this.form || document;
    let peers = [...scope.querySelectorAll("crowd-radio-button")];
    if (!this.group) {
      peers = peers.filter((p) => !p.group && p.getAttribute("name") === this.getAttribute("name"));
    } else {
      peers = peers.filter((p) => p.group === this.group);
    }
    for (const peer of peers) if (peer !== this) peer.checked = false;
  }

  get checked() {
    return this.control ? this.control.checked : Boolean(this.pendingChecked ?? this.flag("checked"));
  }

  set checked(v) {
    if (this.control) {
      this.control.checked = Boolean(v);
      if (v && this.localName === "crowd-radio-button") this.uncheckOthers();
    } else {
      this.pendingChecked = Boolean(v);
    }
  }

  get value() {
    return this.attr("value", "on");
  }

  validate() {
    const problem = this.localName === "crowd-checkbox" && this.hasAttribute("required") && !this.checked && !this.flag("disabled")
      ? "Check this box to continue."
      : "";
    this.showError(problem);
    return problem;
  }

  // { "<name>": { "<value>": true | false } }, boxes of one name sharing one object.
  contribute(output) {
    const name = this.getAttribute("name");
    if (name) merge(output, name, this.value, this.checked);
  }

  focus() {
    if (this.control) this.control.focus();
  }
}

export class CrowdCheckbox extends Toggle {}
export class CrowdRadioButton extends Toggle {}

export class CrowdRadioGroup extends CrowdElement {
  build() {
    this.errorBox = el("p", { class: "crowd-error", role: "alert", hidden: true });
    this.makeShadow(el("div", { class: "crowd-radio-group", role: "radiogroup" }, el("slot")), this.errorBox);
    this.markReady();
  }

  get buttons() {
    return [...this.querySelectorAll("crowd-radio-button")].filter((b) => b.group === this);
  }

  // Not in AWS's reference, but a template may ask for it: `required` on the group.
  validate() {
    const problem = this.hasAttribute("required") && !this.buttons.some((b) => b.checked) ? "Choose one option." : "";
    this.showError(problem);
    return problem;
  }
}

// --- crowd-slider --------------------------------------------------------------------------------

export class CrowdSlider extends CrowdElement {
  static get observedAttributes() {
    return ["disabled", "secondary-progress"];
  }

  build() {
    this.control = el("input", {
      type: "range", min: this.attr("min", "0"), max: this.attr("max", "100"), step: this.attr("step", "1"),
      "aria-label": this.attr("name", "value"),
    });
    // Until the worker or the template sets a value, the knob rests mid-way (on a step).
    const [min, max, step] = [Number(this.control.min), Number(this.control.max), Number(this.control.step) || 1];
    this.control.value = String(min + Math.round((max - min) / 2 / step) * step);
    this.set = this.hasAttribute("value") || this.pendingValue !== undefined;
    if (this.hasAttribute("value")) this.control.value = this.getAttribute("value");
    this.pin = el("output", { class: "crowd-pin" });
    this.number = this.flag("editable")
      ? el("input", { type: "number", class: "crowd-slider-number", min: this.control.min, max: this.control.max, step: this.control.step, "aria-label": "value" })
      : null;
    this.errorBox = el("p", { class: "crowd-error", role: "alert", hidden: true });
    this.makeShadow(el("div", { class: "crowd-slider" }, this.control, this.flag("pin") ? this.pin : null, this.number), this.errorBox);
    this.adoptProperty("value");
    if (this.pendingValue !== undefined) this.value = this.pendingValue;
    this.control.addEventListener("input", () => {
      this.set = true;
      this.show();
      this.dispatchEvent(new Event("change", { bubbles: true }));
    });
    if (this.number) {
      this.number.addEventListener("input", () => {
        if (this.number.value === "") return;
        this.control.value = this.number.value;
        this.set = true;
        this.show();
      });
    }
    this.attributeChangedCallback();
    this.show();
    this.markReady();
  }

  attributeChangedCallback() {
    if (!this.control) return;
    this.control.disabled = this.flag("disabled");
    if (this.number) this.number.disabled = this.control.disabled;
    const secondary = Number(this.getAttribute("secondary-progress"));
    if (Number.isFinite(secondary) && this.hasAttribute("secondary-progress")) {
      const min = Number(this.control.min);
      const span = Number(this.control.max) - min || 1;
      this.control.style.setProperty("--crowd-secondary", `${((secondary - min) / span) * 100}%`);
      this.control.classList.add("secondary");
    }
  }

  show() {
    this.pin.textContent = this.set ? this.control.value : "–";
    if (this.number && this.set) this.number.value = this.control.value;
    if (this.hasAttribute("invalid")) this.validate();
  }

  get value() {
    if (!this.control) return this.pendingValue;
    return this.set ? Number(this.control.value) : undefined;
  }

  set value(v) {
    if (!this.control) {
      this.pendingValue = v;
      return;
    }
    this.control.value = String(v);
    this.set = true;
    this.show();
  }

  validate() {
    const problem = this.hasAttribute("required") && !this.flag("disabled") && !this.set ? "Move the slider to choose a value." : "";
    this.showError(problem);
    return problem;
  }

  // A number; nothing while the worker has not set one and the template gave no value.
  contribute(output) {
    const name = this.getAttribute("name");
    if (name && this.set && !this.flag("disabled")) output[name] = Number(this.control.value);
  }
}

// --- crowd-button --------------------------------------------------------------------------------

export class CrowdButton extends CrowdElement {
  static get observedAttributes() {
    return ["disabled", "loading", "variant"];
  }

  build() {
    const href = this.getAttribute("href");
    this.control = href
      ? el("a", { href, target: this.getAttribute("target"), class: "button", rel: "noopener" })
      : el("button", { type: "button" });
    const iconUrl = this.getAttribute("icon-url");
    const icon = iconUrl ? el("img", { src: iconUrl, alt: "", class: "crowd-icon" }) : null;
    const label = el("span", {}, el("slot"));
    if (this.attr("icon-align", "left") === "right") this.control.append(label, icon || "");
    else this.control.append(icon || "", label);
    this.makeShadow(this.control);
    this.control.addEventListener("click", (event) => {
      if (this.busy()) {
        event.preventDefault();
        return;
      }
      const action = this.getAttribute("form-action");
      if (action === "submit" && this.form) this.form.submit();
      else if (action === "reset" && this.form) this.form.reset();
    });
    this.attributeChangedCallback();
    this.markReady();
  }

  busy() {
    return this.flag("disabled") || this.flag("loading");
  }

  attributeChangedCallback() {
    if (!this.control) return;
    const variant = this.attr("variant", this.getAttribute("form-action") === "submit" ? "primary" : "normal");
    this.control.className = `${this.control.localName === "a" ? "button " : ""}crowd-button ${variant === "primary" ? "primary" : ""} ${variant === "link" ? "link" : ""} ${variant === "icon" ? "icon" : ""}`.trim();
    if (this.control.localName === "button") this.control.disabled = this.busy();
    this.control.setAttribute("aria-busy", String(this.flag("loading")));
  }
}

// --- crowd-card / crowd-alert --------------------------------------------------------------------

export class CrowdCard extends CrowdElement {
  build() {
    const image = this.getAttribute("image");
    const heading = this.getAttribute("heading");
    this.makeShadow(
      el("div", { class: "card crowd-card" },
        image ? el("img", { src: image, alt: heading || "", class: "crowd-card-image" }) : null,
        heading ? el("h3", {}, heading) : null,
        el("slot")),
    );
    this.markReady();
  }
}

export class CrowdAlert extends CrowdElement {
  build() {
    const type = ["info", "success", "error", "warning"].includes(this.getAttribute("type")) ? this.getAttribute("type") : "info";
    const box = el("div", { class: `crowd-alert ${type}`, role: type === "error" || type === "warning" ? "alert" : "status" }, el("div", { class: "crowd-alert-text" }, el("slot")));
    if (this.flag("dismissible")) {
      const close = el("button", { type: "button", class: "icon", "aria-label": "Dismiss", title: "Dismiss" }, "✕");
      close.addEventListener("click", () => {
        this.hidden = true;
      });
      box.append(close);
    }
    this.makeShadow(box);
    this.markReady();
  }
}

// --- instructions ----------------------------------------------------------------------------------

// full-instructions, short-instructions, and crowd-instructions' regions: blocks whose parent
// decides where they show.
export class Region extends CrowdElement {
  build() {
    this.makeShadow(el("slot"));
    this.markReady();
  }
}

const TABS = [
  ["Summary", ["short-summary"]],
  ["Detailed Instructions", ["detailed-instructions"]],
  ["Examples", ["positive-example", "negative-example"]],
];

export class CrowdInstructions extends CrowdElement {
  build() {
    for (const child of this.children) {
      if (["short-summary", "detailed-instructions", "positive-example", "negative-example"].includes(child.localName)) {
        child.slot = child.localName;
      }
    }
    const asButton = this.attr("link-type", "link") === "button";
    const opener = el("button", { type: "button", class: asButton ? "" : "link" }, this.attr("link-text", "Click for instructions"));
    const tabs = el("div", { class: "row crowd-tabs", role: "tablist" });
    const pages = [];
    const close = el("button", { type: "button", class: "icon", "aria-label": "Close", title: "Close" }, "✕");
    TABS.forEach(([title, slots], i) => {
      const tab = el("button", { type: "button", class: "small", role: "tab", "aria-selected": String(i === 0) }, title);
      const page = el("section", { role: "tabpanel", hidden: i !== 0 },
        slots.map((name) => el("div", { class: `crowd-example ${name}` },
          name === "positive-example" ? el("h3", {}, "Good example") : null,
          name === "negative-example" ? el("h3", {}, "Bad example") : null,
          el("slot", { name }))));
      tab.addEventListener("click", () => {
        pages.forEach((p, j) => (p.hidden = j !== i));
        [...tabs.children].forEach((t, j) => t.setAttribute("aria-selected", String(j === i)));
      });
      tabs.append(tab);
      pages.push(page);
    });
    this.overlay = el("div", { class: "overlay crowd-overlay", hidden: true, role: "dialog", "aria-label": "Instructions" },
      el("div", { class: "card" }, el("header", {}, el("h2", {}, "Instructions"), close), tabs, pages));
    opener.addEventListener("click", () => this.open());
    close.addEventListener("click", () => this.close());
    this.overlay.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.close();
      }
    });
    this.makeShadow(opener, this.overlay);
    this.opener = opener;
    this.markReady();
  }

  open() {
    this.overlay.hidden = false;
    this.overlay.querySelector("button").focus();
  }

  close() {
    this.overlay.hidden = true;
    this.opener.focus();
  }
}
