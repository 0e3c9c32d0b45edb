// A job's page keeps its numbers live by polling the progress endpoint.

import { getJSON } from "./api.js";
import { applyWidths } from "./page.js";

const section = document.getElementById("progress");
const jobId = section.dataset.jobId;
const updated = document.getElementById("updated");
const percent = (part, whole) => (whole ? (100 * part) / whole : 0);
const formats = {
  cost: (v) => v.toFixed(2),
  median_seconds: (v) => (v === null ? "–" : v.toFixed(1)),
};

async function refresh() {
  try {
    const p = await getJSON(`/api/jobs/${jobId}/progress`);
    for (const node of document.querySelectorAll("[data-field]")) {
      const value = p[node.dataset.field];
      const format = formats[node.dataset.field];
      node.textContent = format ? format(value) : String(value);
    }
    const slots = p.submitted + p.leased + p.waiting + p.expired;
    for (const node of section.querySelectorAll("[data-bar]")) {
      node.dataset.width = percent(p[node.dataset.bar], slots).toFixed(1);
    }
    applyWidths(section);
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    updated.textContent = `not updated: ${error.message}`;
  }
}

setInterval(refresh, 3000);
