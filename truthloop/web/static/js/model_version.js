// A model version's page: its progress while it trains, start (with inference units) and stop,
// and "try it": an uploaded image, or one picked from a dataset, sent to the detect API, the
// detections drawn over it (the portal's read-only box view), the DetectCustomLabels JSON, and
// curl and Python snippets that make the same call.

import { csrfToken, getJSON, postJSON } from "./api.js";
import { BoxEditor } from "./boxes.js";
import { el } from "./dom.js";
import { applyWidths } from "./page.js";
import { progressText } from "./training.js";

const POLL_MS = 1000;
const ITEMS_SHOWN = 24;
const section = document.getElementById("version");
const version = section.dataset.version;
const base = `/api/models/${encodeURIComponent(version)}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function showError(id, failure) {
  const node = document.getElementById(id);
  node.hidden = !failure;
  node.textContent = failure ? failure.message : "";
}

// ---- progress while it trains ------------------------------------------------------------

async function followProgress() {
  for (;;) {
    const found = await getJSON(`${base}/progress`).catch(() => null);
    if (found) {
      if (found.status !== "TRAINING_IN_PROGRESS") {
        window.location.reload();
        return;
      }
      const bar = document.getElementById("version-bar");
      bar.dataset.width = String(Math.round(((found.progress || {}).fraction || 0) * 100));
      applyWidths(section);
      document.getElementById("version-progress-text").textContent = progressText(found.progress);
    }
    await sleep(POLL_MS);
  }
}

if (section.dataset.status === "TRAINING_IN_PROGRESS") followProgress();

// ---- start and stop ----------------------------------------------------------------------

function showServed(answer, units) {
  document.getElementById("version-status").textContent = answer.status;
  if (units !== undefined) document.getElementById("inference-units").firstChild.textContent = `${units} `;
}

const startForm = document.getElementById("start-form");
if (startForm) {
  startForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const units = Number(new FormData(startForm).get("inference_units"));
    try {
      showServed(await postJSON(`${base}/start`, { inference_units: units }), units);
      showError("serving-error", null);
    } catch (failure) {
      showError("serving-error", failure);
    }
  });
  document.getElementById("stop").addEventListener("click", async () => {
    try {
      showServed(await postJSON(`${base}/stop`));
      showError("serving-error", null);
    } catch (failure) {
      showError("serving-error", failure);
    }
  });
}

// ---- try it ------------------------------------------------------------------------------

// Single-quoted for a POSIX shell: nothing inside is expanded.
const shell = (text) => `'${String(text).replace(/'/g, `'\\''`)}'`;
// A JSON string literal is a valid Python string literal for the text a URL or file name holds.
const python = (text) => JSON.stringify(String(text));

export function curlSnippet(url, fileName, minConfidence) {
  const lines = [
    `curl -X POST ${shell(url)} \\`,
    `  -H "Authorization: Bearer $TRUTHLOOP_TOKEN" \\`,
    `  -F ${shell(`image=@${fileName}`)}`,
  ];
  if (minConfidence !== "") {
    lines[lines.length - 1] += " \\";
    lines.push(`  -F ${shell(`min_confidence=${minConfidence}`)}`);
  }
  return lines.join("\n");
}

export function pythonSnippet(url, fileName, minConfidence) {
  const data = minConfidence === "" ? "" : `\n    data={"min_confidence": ${Number(minConfidence)}},`;
  return [
    "import os",
    "",
    "import requests",
    "",
    `with open(${python(fileName)}, "rb") as image:`,
    "    response = requests.post(",
    `        ${python(url)},`,
    `        headers={"Authorization": f"Bearer {os.environ['TRUTHLOOP_TOKEN']}"},`,
    `        files={"image": image},${data.replace("\n", "\n    ")}`,
    "        timeout=60,",
    "    )",
    "response.raise_for_status()",
    'print(response.json()["CustomLabels"])',
  ].join("\n");
}

function imageSize(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve({ width: image.naturalWidth, height: image.naturalHeight });
    image.onerror = () => reject(new Error("the browser cannot show this image"));
    image.src = url;
  });
}

async function detect(blob, fileName) {
  const minConfidence = document.getElementById("try-min-confidence").value.trim();
  const body = new FormData();
  body.append("image", blob, fileName);
  if (minConfidence !== "") body.append("min_confidence", minConfidence);
  const response = await fetch(`${base}/detect`, {
    method: "POST", body, credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || `detect failed (${response.status})`);
  return { answer, minConfidence };
}

async function show(blob, fileName, answer, minConfidence) {
  const url = URL.createObjectURL(blob);
  const { width, height } = await imageSize(url);
  const labels = answer.CustomLabels || [];
  const boxes = labels
    .filter((label) => label.Geometry)
    .map((label) => {
      const b = label.Geometry.BoundingBox;
      return {
        label: label.Name, confidence: label.Confidence / 100,
        left: b.Left * width, top: b.Top * height, width: b.Width * width, height: b.Height * height,
      };
    });
  const viewer = new BoxEditor({ width, height, imageUrl: url, proposals: boxes, readOnly: true });
  document.getElementById("try-stage").replaceChildren(viewer.stage);
  document.getElementById("try-labels").replaceChildren(
    ...(labels.length
      ? labels.map((l) => el("li", { class: "detection" }, el("strong", {}, l.Name), ` ${l.Confidence.toFixed(1)} %`))
      : [el("li", { class: "muted" }, "nothing detected at this confidence")]),
  );
  document.getElementById("try-json").textContent = JSON.stringify(answer, null, 2);
  const detectUrl = document.getElementById("try-it").dataset.detectUrl;
  document.getElementById("snippet-curl").textContent = curlSnippet(detectUrl, fileName, minConfidence);
  document.getElementById("snippet-python").textContent = pythonSnippet(detectUrl, fileName, minConfidence);
  document.getElementById("try-result").hidden = false;
}

async function tryImage(blob, fileName) {
  try {
    const { answer, minConfidence } = await detect(blob, fileName);
    await show(blob, fileName, answer, minConfidence);
    showError("try-error", null);
  } catch (failure) {
    showError("try-error", failure);
  }
}

async function pickFrom(dataset) {
  const grid = document.getElementById("try-items");
  if (!dataset) return grid.replaceChildren();
  try {
    const page = await getJSON(`/api/datasets/${encodeURIComponent(dataset)}/items?limit=${ITEMS_SHOWN}`);
    grid.replaceChildren(
      ...page.items.map((item) => {
        const button = el("button", { type: "button", class: "try-item", "data-item": item.id, title: item.uri },
          el("img", { src: item.thumbnail_url, alt: `item ${item.id}` }));
        button.addEventListener("click", async () => {
          const response = await fetch(item.image_url, { credentials: "same-origin" });
          if (!response.ok) return showError("try-error", new Error(`item ${item.id}'s image: ${response.status}`));
          await tryImage(await response.blob(), `item-${item.id}.${(item.uri.split(".").pop() || "png").slice(0, 5)}`);
        });
        return button;
      }),
    );
    showError("try-error", null);
  } catch (failure) {
    showError("try-error", failure);
  }
}

const fileInput = document.getElementById("try-file");
if (fileInput) {
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file) tryImage(file, file.name);
  });
  document.getElementById("try-dataset").addEventListener("change", (event) => pickFrom(event.target.value));
}

for (const button of document.querySelectorAll("button.copy")) {
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      // No clipboard outside secure contexts (plain HTTP on a LAN): select it for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.copy));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
  });
}
