// Messages for the person at the screen: errors from the API in an assertive live region
// (screen readers read them at once), confirmations in a polite one. Both are shown as text.

import { h, replaceChildren } from "../common/api.js";

const SUCCESS_VISIBLE_MS = 5000;

let successTimer = null;

/** Shows an error (an ApiError or any Error) by its message until the next action clears it. */
export function showError(error) {
  const message = error && error.message ? error.message : String(error);
  const alerts = document.getElementById("alerts");
  replaceChildren(
    alerts,
    h(
      "div",
      { class: "notice notice-error", "data-code": error && error.code ? error.code : null },
      h("span", { class: "notice-text" }, message),
      h("button", { type: "button", class: "button button-quiet notice-close", "aria-label": "Dismiss message", onclick: clearError }, "×"),
    ),
  );
}

/** Shows a short confirmation that fades after a few seconds. */
export function showSuccess(message) {
  const notices = document.getElementById("notices");
  replaceChildren(notices, h("div", { class: "notice notice-success" }, message));
  clearTimeout(successTimer);
  successTimer = setTimeout(() => replaceChildren(notices), SUCCESS_VISIBLE_MS);
}

export function clearError() {
  replaceChildren(document.getElementById("alerts"));
}

export function clearAll() {
  clearError();
  clearTimeout(successTimer);
  replaceChildren(document.getElementById("notices"));
}

/**
 * Runs `action`, showing its failure as a message instead of letting it escape; returns the
 * action's result, or undefined when it failed. `button` (optional) is disabled meanwhile so a
 * double tap cannot send twice.
 */
export async function attempt(action, button) {
  if (button) button.disabled = true;
  try {
    clearError();
    return await action();
  } catch (error) {
    // A session that ended has already sent the person to sign-in with the reason.
    if (!endsSession(error)) showError(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** True for the answers that end a session (API.md §3 checks 5, 6 and 8) and for calls made after it ended. */
function endsSession(error) {
  if (!error) return false;
  if (error.code === "signed_out") return true;
  return error.status === 401 && (error.code === "invalid_token" || error.code === "missing_token");
}
