// The Models page: the training form posts to POST /api/models and follows the request it
// gets back (GET /api/model-trainings/{request}) until its version completes or fails; rows
// of versions still training follow their own progress.

import { getJSON, postJSON } from "./api.js";
import { applyWidths } from "./page.js";
import { progressText } from "./training.js";

const POLL_MS = 700;
const form = document.getElementById("train-form");
const error = document.getElementById("train-error");
const status = document.getElementById("train-status");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function formBody() {
  const data = new FormData(form);
  const body = {};
  for (const [key, value] of data.entries()) {
    if (value === "") continue;
    body[key] = key === "epochs" ? Number(value) : value;
  }
  return body;
}

function showState(state) {
  const badge = document.getElementById("train-state");
  badge.textContent = state.state;
  badge.dataset.state = state.state;
  const version = document.getElementById("train-version");
  if (state.version) {
    const link = document.createElement("a");
    link.href = `/models/${encodeURIComponent(state.version)}`;
    link.textContent = state.version;
    version.replaceChildren(link);
  }
  const bar = document.getElementById("train-bar");
  const done = state.state === "completed" ? 1 : state.progress ? state.progress.fraction || 0 : 0;
  bar.dataset.width = String(Math.round(done * 100));
  applyWidths(status);
  const line = document.getElementById("train-progress");
  if (state.state === "failed") line.textContent = `failed: ${state.failure_reason || state.error}`;
  else if (state.state === "queued") line.textContent = "queued: waiting for a worker (truthloop worker)";
  else if (state.state === "completed") line.textContent = `done · ${progressText(state.progress)}`;
  else line.textContent = progressText(state.progress);
}

async function follow(url) {
  for (;;) {
    const state = await getJSON(url);
    showState(state);
    if (state.state === "completed" || state.state === "failed") return state;
    await sleep(POLL_MS);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = document.getElementById("train-submit");
  button.disabled = true;
  try {
    const queued = await postJSON("/api/models", formBody());
    status.hidden = false;
    document.getElementById("train-version").textContent = "";
    await follow(queued.state_url);
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});

// Versions listed while training: their progress, until they end (then the status is stale:
// reload to see it).
for (const node of document.querySelectorAll("[data-progress-version]")) {
  const url = `/api/models/${encodeURIComponent(node.dataset.progressVersion)}/progress`;
  (async () => {
    for (;;) {
      try {
        const found = await getJSON(url);
        if (found.status !== "TRAINING_IN_PROGRESS") {
          node.textContent = `${found.status.toLowerCase().replace(/_/g, " ")}: reload to see it`;
          return;
        }
        node.textContent = progressText(found.progress);
      } catch (failure) {
        node.textContent = `not updated: ${failure.message}`;
      }
      await sleep(POLL_MS * 3);
    }
  })();
}
