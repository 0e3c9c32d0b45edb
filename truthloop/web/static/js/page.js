// What every page needs that CSS alone cannot do under a CSP without inline styles: bar
// widths and label colours given as data attributes.

import { labelColor } from "./boxes.js";

export function applyWidths(root = document) {
  for (const node of root.querySelectorAll("[data-width]")) {
    node.style.width = `${Number(node.dataset.width) || 0}%`;
  }
}

for (const node of document.querySelectorAll("[data-color]")) {
  node.style.backgroundColor = labelColor(node.dataset.color);
}
applyWidths();
