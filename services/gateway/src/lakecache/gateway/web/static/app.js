// LakeCache dashboard: the few things a page cannot do without a script.
// Actions: a button or form with data-api-method/data-api-path sends that request to the JSON API with the
// session's CSRF token (from <meta name="csrf-token">); a form's fields become the JSON body (empty ones left
// out; a checkbox is true or false; data-scale multiplies a number; a "{name}" in the path takes that field
// instead). The answer, or the problem's detail, is shown in #flash; data-done="reload" reloads the page after
// success, data-done="show-token" shows a token just created once (showToken).
// Live progress: a row with data-events follows the copy's Server-Sent Events stream.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

function flash(text, isError) {
  const box = document.getElementById("flash");
  if (!box) return;
  box.textContent = text;
  box.classList.toggle("error", Boolean(isError));
}

function bodyOf(form) {
  const body = {};
  for (const field of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (field.type === "checkbox") { body[field.name] = field.checked; continue; }
    if (field.value === "") continue;
    if (field.type === "number") {
      body[field.name] = Math.round(Number(field.value) * Number(field.dataset.scale || 1));
    } else {
      body[field.name] = field.value;
    }
  }
  return body;
}

// An element's data-* attribute. Not element.dataset: on a form, a field named "dataset" hides it.
const data = (element, name) => element.getAttribute(`data-${name}`);

async function send(element, body) {
  const method = data(element, "api-method");
  // A "{field}" in the path is filled from the form's field of that name (e.g. a tag's name), not sent in the body.
  const path = data(element, "api-path").replace(/\{(\w+)\}/g, (_, name) => {
    const value = body ? body[name] : undefined;
    if (body) delete body[name];
    return encodeURIComponent(value ?? "");
  });
  if (data(element, "confirm") && !window.confirm(data(element, "confirm"))) return;
  element.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(path, {
      method, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf(), "Accept": "application/json",
                ...(body ? {"Content-Type": "application/json"} : {})},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    let answer = null;
    try { answer = text ? JSON.parse(text) : null; } catch { answer = null; }
    if (!response.ok) {
      flash((answer && (answer.detail || answer.title)) || `${method} ${path} answered ${response.status}`, true);
      return;
    }
    // A form is named by its submit button (its own text is every label's).
    const named = element.matches("form") ? element.querySelector("button[type=submit]") : element;
    flash(`${(named && named.textContent.trim()) || method}: done (${response.status}).`, false);
    if (data(element, "done") === "reload") window.setTimeout(() => window.location.reload(), 400);
    if (data(element, "done") === "show-token" && answer && answer.token) showToken(answer.token, element);
  } catch (error) {
    flash(`The request failed: ${error}`, true);
  } finally {
    element.removeAttribute("aria-busy");
  }
}

// A new token's secret is in the API's answer only: it is shown once, in a box removed when dismissed, and never
// put in a URL, in storage or in the page's HTML; dismissing reloads the page, whose list then shows the new token.
function showToken(secret, element) {
  document.querySelector(".secret")?.remove();
  if (element.tagName === "FORM") element.reset();
  const box = document.createElement("div");
  box.className = "secret";
  box.setAttribute("role", "alert");
  const note = document.createElement("p");
  note.textContent = "The new token. Copy it now (Copy, or select it and press Ctrl+C): it is not shown again.";
  const code = document.createElement("code");
  code.textContent = secret;
  const copy = document.createElement("button");
  copy.type = "button";
  copy.textContent = "Copy";
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(secret); copy.textContent = "Copied"; }
    catch { note.textContent = "This page may not copy: select the token and press Ctrl+C."; }
  });
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.textContent = "Done, I copied it";
  dismiss.addEventListener("click", () => { box.remove(); window.location.reload(); });
  box.append(note, code, copy, dismiss);
  document.getElementById("flash").after(box);
  copy.focus();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-api-method]");
  if (button) { event.preventDefault(); send(button, null); }
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-api-method]");
  if (form) { event.preventDefault(); send(form, bodyOf(form)); }
});

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(bytes || 0), unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function follow(row) {
  const source = new EventSource(row.dataset.events, {withCredentials: true});
  const wanted = row.dataset.volumeName;
  source.addEventListener("status", (message) => {
    const status = JSON.parse(message.data);
    const volume = (status.volumes || []).find((v) => !wanted || v.volume === wanted) || {};
    const state = volume.state || status.state;
    const badge = row.querySelector(".badge");
    if (badge) { badge.textContent = state; badge.className = `badge state-${state}`; }
    const bar = row.querySelector(".progress progress");
    const text = row.querySelector(".progress-text");
    if (bar) { bar.max = volume.bytes_total || 1; bar.value = volume.bytes_done || 0; }
    if (text) {
      text.textContent = `${volume.files_done || 0}/${volume.files_total ?? "?"} files · ${size(volume.bytes_done)}` +
        (volume.rate_bytes_per_s ? ` · ${size(volume.rate_bytes_per_s)}/s` : "");
    }
    if (["ready", "failed", "evicted"].includes(state)) {
      source.close();
      window.setTimeout(() => window.location.reload(), 600);
    }
  });
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) flash("Live progress stopped; reload the page.", true); };
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("tr[data-events]").forEach(follow);
});
