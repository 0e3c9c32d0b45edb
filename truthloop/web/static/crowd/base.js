// What every crowd element shares: a shadow root styled by the portal's stylesheet and
// crowd.css, a `ready` promise, properties set by template scripts before the upgrade, and
// the keyboard, which goes to one annotating element at a time.

import { el } from "../js/dom.js";

const APP_CSS = new URL("../app.css", import.meta.url).href;
const CROWD_CSS = new URL("crowd.css", import.meta.url).href;

export class CrowdElement extends HTMLElement {
  constructor() {
    super();
    this.built = false;
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
  }

  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.build();
  }

  // Builds the element once, the first time it is in the document; resolves `ready` (now, or
  // later for an element that loads an image).
  build() {
    this.markReady();
  }

  // A property a template script set before the element was defined shadows the accessor on
  // the prototype: take its value and set it again through the accessor.
  adoptProperty(name) {
    if (Object.prototype.hasOwnProperty.call(this, name)) {
      const value = this[name];
      delete this[name];
      this[name] = value;
    }
  }

  makeShadow(...children) {
    const root = this.attachShadow({ mode: "open" });
    root.append(
      el("link", { rel: "stylesheet", href: APP_CSS }),
      el("link", { rel: "stylesheet", href: CROWD_CSS }),
      ...children.filter((child) => child !== null && child !== undefined && child !== false),
    );
    return root;
  }

  flag(name) {
    const value = this.getAttribute(name);
    return value !== null && value !== "false";
  }

  attr(name, fallback = "") {
    const value = this.getAttribute(name);
    return value === null ? fallback : value;
  }

  get form() {
    return this.closest("crowd-form");
  }

  // The message under the element that says what is wrong (validation), or nothing.
  showError(message) {
    if (!this.errorBox) return;
    this.errorBox.textContent = message || "";
    this.errorBox.hidden = !message;
    this.toggleAttribute("invalid", Boolean(message));
  }
}

// Direct children that are regions of this element get a slot name, so that they stay in the
// light DOM (template scripts still find them) but show where the element places them.
export function slotRegions(host, names) {
  for (const child of host.children) {
    if (names.includes(child.localName) && !child.slot) child.slot = child.localName;
  }
}

export function regionHeader(host, name, fallback) {
  const region = [...host.children].find((c) => c.localName === name);
  return (region && region.getAttribute("header")) || fallback;
}

// --- keyboard --------------------------------------------------------------------------------

const keyed = [];
let active = null;

// An element with handleKey(event) -> bool (and handleKeyUp) takes keys while it is the active
// one: the last one clicked or focused, else the first in the document.
export function takeKeys(element) {
  keyed.push(element);
  element.addEventListener("pointerdown", () => (active = element), true);
  element.addEventListener("focusin", () => (active = element));
}

function owner(path) {
  const inPath = keyed.find((k) => path.includes(k) && k.isConnected);
  if (inPath) return inPath;
  if (active && active.isConnected) return active;
  const connected = keyed.filter((k) => k.isConnected);
  connected.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
  return connected[0] || null;
}

const TYPING = "input, textarea, select, [contenteditable], [contenteditable] *";

export function installKeyboard(submitFor) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    const path = event.composedPath();
    const origin = path[0];
    if (origin instanceof Element && origin.matches(TYPING)) {
      if (event.key === "Escape") origin.blur();
      return;
    }
    const onButton = origin instanceof Element && origin.matches("button, a[href], summary");
    if (onButton && (event.key === "Enter" || event.key === " ")) return;
    const widget = owner(path);
    if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      if (submitFor(widget)) event.preventDefault();
      return;
    }
    if (!widget) return;
    if (event.key === "Tab" && !path.includes(widget)) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && widget.undo) {
      widget.undo();
      event.preventDefault();
      return;
    }
    if (event.ctrlKey || event.metaKey || (event.altKey && !event.key.startsWith("Arrow"))) return;
    if (widget.handleKey(event)) event.preventDefault();
  });
  document.addEventListener("keyup", (event) => {
    const widget = owner(event.composedPath());
    if (widget && widget.handleKeyUp) widget.handleKeyUp(event);
  });
}
