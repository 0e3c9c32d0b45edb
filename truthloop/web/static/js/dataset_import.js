// The import page: files dropped or picked are sent to the import API as they are (one zip, or
// one annotation file whose images are on the server) or packed here into one zip (many images,
// an annotation file with its images), with the upload's progress; a path on the server is sent
// as JSON. Every import is queued, so its id goes into the URL and a reload follows the same one.

import { ApiError, csrfToken, getJSON, postJSON } from "./api.js";
import { el } from "./dom.js";
import { applyWidths } from "./page.js";

const form = document.getElementById("import-form");
// By name, never as form.<name>: a form's own properties would shadow or be shadowed.
const field = (name) => form.elements.namedItem(name);
const fileFormats = new Set(form.dataset.fileFormats.split(" "));
const imageSuffixes = new Set(form.dataset.imageSuffixes.split(" "));
const pollMs = Number(form.dataset.pollMs);
const section = document.getElementById("import-progress");
const refused = document.getElementById("import-refused");
const FINISHED = new Set(["done", "failed"]);
// What the page knew when it sent the files (how many images), kept for a reload of this tab.
const totalKey = (id) => `truthloop.import-total.${id}`;

let chosen = [];

const suffix = (name) => (name.includes(".") ? name.slice(name.lastIndexOf(".")).toLowerCase() : "");
const isImage = (file) => imageSuffixes.has(suffix(file.name));
const isZip = (file) => suffix(file.name) === ".zip";
const pathOf = (file) => file.relativePath || file.webkitRelativePath || file.name;

// ---- choosing files ----------------------------------------------------------------------

function choose(files) {
  chosen = files;
  const images = files.filter(isImage).length;
  const others = files.length - images;
  document.getElementById("chosen").textContent = files.length
    ? `${files.length} file${files.length === 1 ? "" : "s"}: ${images} image${images === 1 ? "" : "s"}` +
      (others ? `, ${others} other (${files.filter((f) => !isImage(f)).map((f) => f.name).slice(0, 3).join(", ")})` : "")
    : "nothing chosen";
  // Images alone are an image folder: folders as labels, unless another format was chosen.
  if (files.length && !others && !fileFormats.has(field("format").value)) field("format").value = "folders";
}

async function entryFiles(entry, prefix) {
  // A dropped folder arrives as an entry tree; its files keep their path for folders as labels.
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    file.relativePath = prefix + file.name;
    return [file];
  }
  const reader = entry.createReader();
  const files = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return files;
    for (const child of batch) files.push(...(await entryFiles(child, `${prefix}${entry.name}/`)));
  }
}

async function dropped(event) {
  event.preventDefault();
  const entries = [...event.dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return choose([...event.dataTransfer.files]);
  const files = [];
  for (const entry of entries) files.push(...(await entryFiles(entry, "")));
  choose(files);
}

const zone = document.getElementById("drop-zone");
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  zone.classList.remove("over");
  dropped(event);
});
for (const id of ["file-picker", "folder-picker"]) {
  document.getElementById(id).addEventListener("change", (event) => choose([...event.target.files]));
}

function showSource() {
  const source = field("source").value;
  for (const node of form.querySelectorAll("[data-source]")) node.hidden = node.dataset.source !== source;
}
for (const radio of field("source")) radio.addEventListener("change", showSource);

// ---- packing many files into one zip (stored, not compressed: images barely compress) -------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
// A zip without ZIP64 records holds at most this many entries, each offset under 4 GiB.
const ZIP_MAX_ENTRIES = 0xffff;
const ZIP_MAX_BYTES = 0xffffffff;

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function header(size) {
  const buffer = new ArrayBuffer(size);
  return [new Uint8Array(buffer), new DataView(buffer)];
}

function localHeader(name, crc, size) {
  const [bytes, view] = header(30 + name.length);
  view.setUint32(0, 0x04034b50, true);
  view.setUint16(4, 20, true); // version needed
  view.setUint16(6, 0x0800, true); // names are UTF-8
  view.setUint32(14, crc, true);
  view.setUint32(18, size, true);
  view.setUint32(22, size, true);
  view.setUint16(26, name.length, true);
  bytes.set(name, 30);
  return bytes;
}

function centralHeader(name, crc, size, offset) {
  const [bytes, view] = header(46 + name.length);
  view.setUint32(0, 0x02014b50, true);
  view.setUint16(4, 20, true);
  view.setUint16(6, 20, true);
  view.setUint16(8, 0x0800, true);
  view.setUint32(16, crc, true);
  view.setUint32(20, size, true);
  view.setUint32(24, size, true);
  view.setUint16(28, name.length, true);
  view.setUint32(42, offset, true);
  bytes.set(name, 46);
  return bytes;
}

function endRecord(count, size, offset) {
  const [bytes, view] = header(22);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, count, true);
  view.setUint16(10, count, true);
  view.setUint32(12, size, true);
  view.setUint32(16, offset, true);
  return bytes;
}

async function packZip(files, onFile) {
  if (files.length > ZIP_MAX_ENTRIES) {
    throw new Error(`${files.length} files are more than one upload holds (${ZIP_MAX_ENTRIES}); zip them yourself`);
  }
  const parts = [];
  const central = [];
  let offset = 0;
  const encoder = new TextEncoder();
  for (const [i, file] of files.entries()) {
    const name = encoder.encode(pathOf(file));
    const crc = crc32(new Uint8Array(await file.arrayBuffer()));
    const local = localHeader(name, crc, file.size);
    central.push(centralHeader(name, crc, file.size, offset));
    parts.push(local, file); // the Blob refers to the file; its bytes are not copied here
    offset += local.length + file.size;
    if (offset > ZIP_MAX_BYTES) throw new Error("the files are over 4 GiB; zip them yourself");
    onFile(i + 1, files.length);
  }
  const size = central.reduce((sum, part) => sum + part.length, 0);
  return new Blob([...parts, ...central, endRecord(files.length, size, offset)], { type: "application/zip" });
}

// ---- sending -----------------------------------------------------------------------------

function options() {
  const chosenOptions = {};
  for (const name of ["label_attribute", "labels", "split", "on_error", "image_root"]) {
    const value = field(name).value.trim();
    if (value) chosenOptions[name] = value;
  }
  for (const name of ["copy", "verify_images"]) if (field(name).checked) chosenOptions[name] = true;
  return chosenOptions;
}

// What to upload: one zip or one annotation file as it is, or else everything packed.
async function body(files, format) {
  if (files.length === 1 && (isZip(files[0]) || (!isImage(files[0]) && fileFormats.has(format)))) {
    return { blob: files[0], filename: files[0].name, annotations: null };
  }
  const annotations = files.filter((f) => !isImage(f));
  const named = fileFormats.has(format) && annotations.length === 1 ? pathOf(annotations[0]) : null;
  const blob = await packZip(files, (n, total) => showUpload(`packing ${n} / ${total} files`, 0));
  return { blob, filename: "upload.zip", annotations: named };
}

function upload(url, blob) {
  // XMLHttpRequest, not fetch: only it reports how much of the body has gone.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) showUpload(`${megabytes(event.loaded)} of ${megabytes(event.total)} MB`, (100 * event.loaded) / event.total);
    });
    xhr.addEventListener("load", () => {
      let data = {};
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        // a proxy's HTML error page: the status says enough
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data.detail));
    });
    xhr.addEventListener("error", () => reject(new Error("the upload broke off (network error)")));
    xhr.send(blob);
  });
}

const megabytes = (n) => (n / 1e6).toFixed(1);

function showUpload(text, percent) {
  section.hidden = false;
  document.getElementById("upload-part").hidden = false;
  document.getElementById("upload-text").textContent = text;
  const bar = document.getElementById("upload-bar");
  bar.dataset.width = String(percent);
  applyWidths(section);
}

async function send() {
  const dataset = field("dataset_name").value.trim();
  const format = field("format").value;
  const base = `/api/datasets/${encodeURIComponent(dataset)}/import`;
  const source = field("source").value;
  if (source !== "files") {
    const path = field(source).value.trim();
    return { answer: await postJSON(base, { path, format, background: true, ...options() }), total: null };
  }
  if (!chosen.length) throw new Error("choose the files to import, or drop them on the page");
  const { blob, filename, annotations } = await body(chosen, format);
  const query = new URLSearchParams({ format, filename, background: "true", ...options() });
  if (annotations) query.set("annotations", annotations);
  return { answer: await upload(`${base}?${query}`, blob), total: chosen.filter(isImage).length };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  refused.hidden = true;
  if (!field("dataset_name").value.trim()) return refuse("name the dataset to import into");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const { answer, total } = await send();
    if (total) sessionStorage.setItem(totalKey(answer.id), String(total));
    history.replaceState(null, "", `?import=${answer.id}`);
    follow(answer.id);
  } catch (error) {
    refuse(error.message);
    section.hidden = true;
  } finally {
    button.disabled = false;
  }
});

function refuse(message) {
  refused.textContent = message;
  refused.hidden = false;
}

// ---- following a queued import -----------------------------------------------------------

function show(state) {
  const total = sessionStorage.getItem(totalKey(state.id));
  document.getElementById("import-number").textContent = `#${state.id} into ${state.dataset}`;
  const status = document.getElementById("import-status");
  status.textContent = state.status;
  status.className = `badge import-${state.status}`;
  document.getElementById("lines-read").textContent = String(state.lines_read);
  document.getElementById("lines-total").textContent = total ? ` / ${total}` : "";
  document.getElementById("items-stored").textContent = String(state.items_stored);
  document.getElementById("refused-count").textContent = String(state.refusals.length);
  showRefusals(state.refusals);
  const done = state.status === "done";
  document.getElementById("import-done").hidden = !done;
  const link = document.getElementById("dataset-link");
  link.href = `/datasets/${encodeURIComponent(state.dataset)}`;
  link.textContent = `Open ${state.dataset} (${state.items_stored} item${state.items_stored === 1 ? "" : "s"} imported)`;
  const failed = document.getElementById("import-error");
  failed.hidden = state.status !== "failed";
  failed.textContent = state.error || "";
}

function showRefusals(refusals) {
  const table = document.getElementById("refusals");
  table.hidden = !refusals.length;
  table.tBodies[0].replaceChildren(
    ...refusals.map((r) => el("tr", {}, el("td", { class: "num" }, r.line ?? ""), el("td", {}, r.what), el("td", {}, el("code", {}, r.where)))),
  );
}

let following = 0;

async function follow(id) {
  section.hidden = false;
  following = id; // a newer import sent from this page ends the loop following an older one
  while (following === id) {
    try {
      const state = await getJSON(`/api/imports/${id}`);
      show(state);
      if (FINISHED.has(state.status)) return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return refuse(`there is no import ${id}`);
      // Otherwise a network blip: ask again at the next tick.
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

showSource();
if (form.dataset.importId) follow(Number(form.dataset.importId));
