// The worker's page: fetches tasks, shows one annotator at a time, keeps every open task's
// work (and undo history) while the worker moves between them, and submits reliably.

import { ApiError, getJSON, newClientId, postJSON, resendPending, submitReliably } from "./api.js";
import { makeAnnotator } from "./annotators.js";

const root = document.getElementById("work");
const stage = document.getElementById("stage");
const side = document.getElementById("side");
const status = document.getElementById("status");
const meta = document.getElementById("task-meta");
const timer = document.getElementById("timer");
const instructions = document.getElementById("instructions");
const instructionsBody = document.getElementById("instructions-body");
const shortcuts = document.getElementById("shortcuts");
const empty = document.getElementById("empty");

let jobId = root.dataset.jobId ? Number(root.dataset.jobId) : null;
const entries = [];
let current = -1;
let busy = false;
let submitted = 0;

function setStatus(text, kind = "info") {
  status.textContent = text;
  status.dataset.kind = kind;
  status.hidden = !text;
}

function entryFor(task) {
  const entry = { task, history: [], spentMs: 0, since: null, clientId: null };
  entry.ui = makeAnnotator(task, () => {
    entry.history.push(entry.ui.snapshot());
    if (entry.history.length > 500) entry.history.shift();
  });
  return entry;
}

// Seconds spent count only while the task is on screen and the tab is visible.
function pauseTimer() {
  const e = entries[current];
  if (e && e.since !== null) {
    e.spentMs += performance.now() - e.since;
    e.since = null;
  }
}

function resumeTimer() {
  const e = entries[current];
  if (e && e.since === null && document.visibilityState === "visible") e.since = performance.now();
}

function seconds(e) {
  return (e.spentMs + (e.since === null ? 0 : performance.now() - e.since)) / 1000;
}

function clock(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
}

function tick() {
  const e = entries[current];
  timer.textContent = e ? `${clock(seconds(e))} / ${clock(e.task.time_limit_s)}` : "";
  timer.classList.toggle("late", Boolean(e && seconds(e) > e.task.time_limit_s * 0.8));
}

function show(index) {
  pauseTimer();
  current = index;
  const e = entries[index];
  empty.hidden = true;
  stage.replaceChildren(e.ui.stage);
  side.replaceChildren(e.ui.side);
  // Sanitised by the server (markdown-it, then nh3); the page's CSP forbids inline script too.
  const template = document.createElement("template");
  template.innerHTML = e.task.instructions_html || "<p>This job has no instructions.</p>";
  instructionsBody.replaceChildren(template.content);
  meta.textContent = `Task ${e.task.task_id} · ${index + 1} of ${entries.length} open · ${submitted} submitted`;
  root.dataset.taskId = e.task.task_id;
  history.replaceState(null, "", `/tasks/${e.task.task_id}`);
  if (e.ui.shown) requestAnimationFrame(() => e.ui.shown());
  resumeTimer();
  tick();
}

function showEmpty(text) {
  pauseTimer();
  current = -1;
  stage.replaceChildren();
  side.replaceChildren();
  empty.querySelector("p").textContent = text;
  empty.hidden = false;
  meta.textContent = `${submitted} submitted`;
  if (jobId !== null) history.replaceState(null, "", `/work/${jobId}`);
  tick();
}

async function next() {
  if (current < entries.length - 1) return show(current + 1);
  if (jobId === null || busy) return;
  busy = true;
  try {
    const task = await postJSON(`/api/jobs/${jobId}/next`);
    if (task) {
      entries.push(entryFor(task));
      show(entries.length - 1);
      setStatus("");
    } else if (!entries.length) {
      showEmpty("No task is waiting for you in this job. Well done!");
    } else {
      setStatus("No new task is waiting; finish the open ones (←).", "info");
    }
  } catch (error) {
    setStatus(error.message, "error");
  } finally {
    busy = false;
  }
}

function previous() {
  if (current > 0) show(current - 1);
}

function dropCurrent() {
  pauseTimer();
  entries.splice(current, 1);
  if (current < entries.length) show(current);
  else {
    current = entries.length - 1;
    next();
  }
}

async function submit() {
  const e = entries[current];
  if (!e || busy) return;
  const result = e.ui.answer();
  if (result.error) return setStatus(result.error, "error");
  busy = true;
  e.clientId = e.clientId || newClientId();
  const body = { client_id: e.clientId, answer: result.answer, seconds: Math.round(seconds(e) * 10) / 10 };
  setStatus("Saving…");
  try {
    await submitReliably(`/api/tasks/${e.task.task_id}/submit`, body, (attempt) =>
      setStatus(`No connection: trying again (${attempt})… your answer is kept.`, "warn"));
    submitted += 1;
    setStatus("Saved ✓", "ok");
    busy = false;
    dropCurrent();
  } catch (error) {
    busy = false;
    // Refused for good (bad box, expired lease): the answer will change, so it gets a new id.
    e.clientId = null;
    setStatus(error.message, "error");
  }
}

async function skip() {
  const e = entries[current];
  if (!e || busy) return;
  try {
    await postJSON(`/api/tasks/${e.task.task_id}/release`);
    setStatus("Task given back.", "info");
    dropCurrent();
  } catch (error) {
    setStatus(error.message, "error");
  }
}

function undo() {
  const e = entries[current];
  const snapshot = e && e.history.pop();
  if (snapshot) e.ui.restore(snapshot);
  else setStatus("Nothing to undo.", "info");
}

function toggle(panel, force) {
  panel.hidden = force === undefined ? !panel.hidden : !force;
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target.matches("input, textarea, select")) {
    if (event.key === "Escape") target.blur();
    if (event.key === "Enter" && target.tagName === "TEXTAREA" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
    return;
  }
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    return undo();
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const ui = entries[current] && entries[current].ui;
  switch (event.key) {
    case "?": toggle(shortcuts); break;
    case "i": case "I": toggle(instructions); break;
    case "Enter": submit(); break;
    case "ArrowRight": next(); break;
    case "ArrowLeft": previous(); break;
    case "z": case "Z": undo(); break;
    case "s": case "S": skip(); break;
    case "Escape":
      if (!shortcuts.hidden || !instructions.hidden) {
        toggle(shortcuts, false);
        toggle(instructions, false);
      } else if (!(ui && ui.handleKey(event))) return;
      break;
    default:
      if (!(ui && ui.handleKey(event))) return;
  }
  event.preventDefault();
});

document.addEventListener("keyup", (event) => {
  const ui = entries[current] && entries[current].ui;
  if (ui && ui.handleKeyUp) ui.handleKeyUp(event);
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") resumeTimer();
  else pauseTimer();
});

for (const [id, action] of [
  ["submit", submit], ["next", next], ["prev", previous], ["skip", skip], ["undo", undo],
  ["toggle-instructions", () => toggle(instructions)], ["toggle-shortcuts", () => toggle(shortcuts)],
]) {
  document.getElementById(id).addEventListener("click", (event) => {
    event.currentTarget.blur();
    action();
  });
}
for (const button of document.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => toggle(document.getElementById(button.dataset.close), false));
}

setInterval(tick, 1000);

async function start() {
  await resendPending();
  const taskId = root.dataset.taskId;
  if (taskId) {
    try {
      const task = await getJSON(`/api/tasks/${taskId}`);
      jobId = task.job_id;
      entries.push(entryFor(task));
      show(0);
      return;
    } catch (error) {
      setStatus(error instanceof ApiError ? error.message : String(error), "error");
    }
  }
  next();
}

start();
