/*
 * truthloop's own Crowd HTML Elements, for A2I / Ground Truth task templates served offline.
 *
 * A template's `<script src="https://assets.crowd.aws/crowd-html-elements.js">` is rewritten
 * to this file. It is a classic script: once the document is parsed it imports the element
 * modules (elements.js, which imports the portal's own box editor and label picker from
 * ../js/), defines every crowd-* element, waits for them to be ready (images loaded), then
 * dispatches `all-crowd-elements-ready` on document, as template scripts expect.
 *
 * Serving: the template runs in a sandboxed iframe without allow-same-origin, so its origin
 * is opaque and module imports are cross-origin requests: the files under /static/ must be
 * served with `Access-Control-Allow-Origin: *` (they are public, static and credential-free).
 * The CSP the frame runs under needs `script-src 'self'` and `style-src 'self' 'unsafe-inline'`
 * (shadow roots link ../app.css and crowd.css); nothing here fetches, evals or navigates.
 *
 * Talking to the portal: the frame cannot call the API, so it speaks postMessage to
 * window.parent with target origin "*" (the frame's origin is opaque; the parent checks
 * `event.source` is its frame's window). Every message is a plain object:
 *
 *   frame -> portal  {source: "truthloop-crowd", type: "ready"}
 *       once every crowd element is upgraded and ready, right after all-crowd-elements-ready.
 *   frame -> portal  {source: "truthloop-crowd", type: "submit", answer: {...}}
 *       on a submit that passed validation and that no template `submit` listener cancelled.
 *       `answer` is the output object as A2I stores it in answerContent: keyed by each named
 *       crowd element and each named native input inside the crowd-form. The form then shows
 *       "Submitting…" and takes no second submit until the portal answers:
 *   portal -> frame  {source: "truthloop-portal", type: "submitted"}
 *       the answer is stored: the form shows its done state and stays locked.
 *   portal -> frame  {source: "truthloop-portal", type: "refused", message: "..."}
 *       not stored: the form shows the message and the worker may submit again.
 *   The frame accepts portal messages only from window.parent. A submit that fails validation
 *   shows its messages in the frame and sends nothing.
 */
(function () {
  "use strict";
  if (window.__truthloopCrowd) return;
  window.__truthloopCrowd = true;

  var script = document.currentScript;
  var base = script && script.src ? script.src : location.href;
  var modules = new URL("elements.js", base).href;

  function failed(error) {
    var box = document.createElement("p");
    box.setAttribute("role", "alert");
    box.style.cssText = "margin:1rem;padding:.6rem .8rem;border:1px solid #fecdca;background:#fef3f2;color:#c4320a;border-radius:8px;font:15px system-ui,sans-serif";
    box.textContent = "The task's elements could not be loaded: " + (error && error.message ? error.message : error);
    (document.body || document.documentElement).prepend(box);
  }

  function start() {
    import(modules).then(function (m) { return m.start(); }).catch(failed);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
