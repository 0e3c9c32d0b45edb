// The reviewer's page: leases the flow's next task, shows its page (the flow's template,
// rendered by the server) in a sandboxed frame, and submits the answer the frame posts.
// The frame has an opaque origin and no way to call the API: only messages from it
// (`event.source` is the frame's window) are taken, and only in the shape
// static/crowd/crowd-html-elements.js documents.

import { ApiError, getJSON, newClientId, postJSON, resendPending, submitReliably } from "./api.js";

const root = document.getElementById("review");
const frame = document.getElementById("task-frame");
const meta = document.getElementById("task-meta");
const title = document.getElementById("review-title");
const description = document.getElementById("review-description");
const status = document.getElementById("status");
const timer = document.getElementById("timer");
const empty = document.getElementById("empty");
const skip = document.getElementById("skip");
const jobId = Number(root.dataset.jobId);

let task = null;
let shownAt = 0;
let clientId = null;
let sending = false;

function setStatus(text, kind = "info") {
  status.textContent = text;
  status.dataset.kind = kind;
  status.hidden = !text;
}

function tell(message) {
  frame.contentWindow.postMessage({ source: "truthloop-portal", ...message }, "*");
}

async function loadNext() {
  task = null;
  frame.hidden = true;
  const next = await postJSON(`/api/jobs/${jobId}/next`);
  if (!next) {
    empty.hidden = false;
    meta.textContent = "";
    setStatus("");
    return;
  }
  const about = await getJSON(`/api/review/tasks/${next.task_id}`);
  task = next;
  clientId = newClientId();
  title.textContent = about.title;
  description.textContent = about.description;
  meta.textContent = `Task ${next.task_id} · human loop ${about.loop}`;
  frame.src = about.frame_url;
  frame.hidden = false;
  shownAt = performance.now();
  setStatus("");
}

async function submit(answer) {
  if (!task || sending) return;
  sending = true;
  const seconds = (performance.now() - shownAt) / 1000;
  setStatus("Submitting…");
  try {
    await submitReliably(
      `/api/review/tasks/${task.task_id}/submit`,
      { client_id: clientId, answer, seconds },
      (attempt) => setStatus(`Network trouble; retrying (${attempt})…`, "warn"),
    );
    tell({ type: "submitted" });
    setStatus("Submitted.", "ok");
    await loadNext();
  } catch (error) {
    const message = error instanceof ApiError ? error.message : String(error);
    tell({ type: "refused", message });
    setStatus(message, "error");
  } finally {
    sending = false;
  }
}

window.addEventListener("message", (event) => {
  if (event.source !== frame.contentWindow) return;
  const data = event.data;
  if (!data || data.source !== "truthloop-crowd") return;
  if (data.type === "submit" && data.answer && typeof data.answer === "object") submit(data.answer);
});

skip.addEventListener("click", async () => {
  if (!task) return;
  await postJSON(`/api/tasks/${task.task_id}/release`);
  await loadNext();
});

setInterval(() => {
  if (!task) return;
  const s = Math.floor((performance.now() - shownAt) / 1000);
  timer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}, 1000);

resendPending().finally(() => loadNext().catch((error) => setStatus(String(error), "error")));
