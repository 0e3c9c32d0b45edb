// The dataset page's split editor: every image by a train share (seeded, stratified by label,
// on the server), or the images ticked in the grid into a chosen split, through
// POST /api/datasets/{name}/split; the page reloads to show the new counts and captions.

import { postJSON } from "./api.js";

const form = document.getElementById("split-editor");
const status = document.getElementById("split-status");

function body(by) {
  if (by === "ratio") {
    return {
      train_share: Number(form.elements.train_percent.value) / 100,
      seed: Number(form.elements.seed.value),
    };
  }
  const items = [...document.querySelectorAll(".thumb input.pick:checked")].map((box) =>
    Number(box.value),
  );
  return { items, split: form.elements.split.value };
}

async function submit(event) {
  event.preventDefault();
  const request = body(event.submitter ? event.submitter.value : "ratio");
  if (request.items && request.items.length === 0) {
    status.textContent = "Tick the images to move first.";
    return;
  }
  status.textContent = "Saving…";
  try {
    const url = `/api/datasets/${encodeURIComponent(form.dataset.dataset)}/split`;
    const { items_per_split: counts } = await postJSON(url, request);
    status.textContent = Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(" · ");
    window.location.reload();
  } catch (error) {
    status.textContent = `Not saved: ${error.message}`;
  }
}

if (form) form.addEventListener("submit", submit);
