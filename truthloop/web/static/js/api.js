// Talking to the REST API from the portal's pages: the CSRF header on every change, JSON in and
// out, and submits that survive a flaky network or a reload.

const PENDING_KEY = "truthloop.pending-submits";

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `request failed (${status})`);
    this.status = status;
  }
}

async function request(method, url, body) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail);
  return data;
}

export const getJSON = (url) => request("GET", url);
export const postJSON = (url, body) => request("POST", url, body === undefined ? {} : body);

// crypto.randomUUID exists only in secure contexts (HTTPS, localhost); a portal reached over
// plain HTTP on a LAN still needs unique ids, which getRandomValues gives everywhere.
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// A gateway error or a dropped connection says nothing about whether the server stored the
// submit; sending it again with the same client id is safe because the server keeps the first.
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pending() {
  try {
    return JSON.parse(localStorage.getItem(PENDING_KEY) || "{}");
  } catch {
    return {};
  }
}

function remember(clientId, entry) {
  const all = pending();
  if (entry) all[clientId] = entry;
  else delete all[clientId];
  localStorage.setItem(PENDING_KEY, JSON.stringify(all));
}

// Kept in localStorage until the server answers, so closing the tab mid-submit loses nothing:
// the next page load sends it again (see resendPending).
export async function submitReliably(url, body, onRetry) {
  remember(body.client_id, { url, body });
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await postJSON(url, body);
      remember(body.client_id, null);
      return result;
    } catch (error) {
      const retry = !(error instanceof ApiError) || RETRYABLE.has(error.status);
      if (!retry) {
        remember(body.client_id, null);
        throw error;
      }
      if (onRetry) onRetry(attempt + 1, error);
      await sleep(Math.min(500 * 2 ** attempt, 10000));
    }
  }
}

export async function resendPending() {
  for (const [clientId, entry] of Object.entries(pending())) {
    try {
      await postJSON(entry.url, entry.body);
      remember(clientId, null);
    } catch (error) {
      if (error instanceof ApiError && !RETRYABLE.has(error.status)) remember(clientId, null);
    }
  }
}
