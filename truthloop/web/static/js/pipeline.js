// A pipeline's page keeps its counters live by polling the counters endpoint, as a job's page
// polls its progress.

import { getJSON } from "./api.js";

const section = document.getElementById("pipeline-counters");
const name = section.dataset.pipeline;
const updated = document.getElementById("counters-updated");
const formats = {
  percent: (v) => (v === null ? "–" : `${(100 * v).toFixed(1)} %`),
};

// "detections.by_source.upload" read from the answer, one key at a time.
const read = (data, path) => path.split(".").reduce((v, key) => (v == null ? v : v[key]), data);

async function refresh() {
  try {
    const counters = await getJSON(`/api/pipelines/${encodeURIComponent(name)}/counters`);
    for (const node of section.querySelectorAll("[data-counter]")) {
      const value = read(counters, node.dataset.counter);
      const format = formats[node.dataset.format];
      node.textContent = format ? format(value) : String(value ?? "none");
    }
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    updated.textContent = `not updated: ${error.message}`;
  }
}

setInterval(refresh, 5000);
