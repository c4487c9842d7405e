// The operator console: sign-in with the admin token, the sections, and the message line.
// The token lives in sessionStorage: it survives a reload of this tab and nothing else.

import { ApiError, request } from "../common/api.js";
import { createTenantsSection } from "./tenants.js";
import { createAnalyticsSection, createUsageSection } from "./insights.js";

const TOKEN_KEY = "tenantpos.console.adminToken";

const elements = {
  signIn: document.getElementById("sign-in"),
  signInForm: document.getElementById("sign-in-form"),
  tokenInput: document.getElementById("admin-token"),
  signOut: document.getElementById("sign-out"),
  nav: document.getElementById("console-nav"),
  message: document.getElementById("message"),
  main: document.getElementById("main"),
};

/** Shows `text` in the message line; `kind` is "error", "success" or "info". */
function say(text, kind = "info") {
  elements.message.className = `notice notice-${kind}`;
  elements.message.setAttribute("role", kind === "error" ? "alert" : "status");
  elements.message.textContent = text;
}

function clearMessage() {
  elements.message.textContent = "";
}

/** The context every section gets: the API with the admin token, and the message line. */
const console_ = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  api(path, options = {}) {
    return request(path, { ...options, adminToken: this.token() }).catch((error) => {
      if (error instanceof ApiError && error.status === 401) {
        signOut("The admin token was refused. Sign in again.");
      }
      throw error;
    });
  },
  say,
  clearMessage,
  /** Shows an API error as its message. */
  fail(error) {
    say(error instanceof ApiError ? error.message : String(error), "error");
  },
};

const sections = {
  tenants: createTenantsSection(console_),
  analytics: createAnalyticsSection(console_),
  usage: createUsageSection(console_),
};

let current = "tenants";

function show(name) {
  current = name;
  for (const [key, section] of Object.entries(sections)) {
    section.element.hidden = key !== name;
  }
  for (const button of elements.nav.querySelectorAll("button[data-section]")) {
    if (button.dataset.section === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  sections[name].load();
}

function signedIn() {
  elements.signIn.hidden = true;
  elements.nav.hidden = false;
  elements.signOut.hidden = false;
  show(current);
  // The usage list comes from a route that may not exist on this deployment: offer it only
  // when it answers.
  elements.nav.removeAttribute("data-usage-checked");
  sections.usage.available().then((available) => {
    elements.nav.querySelector('[data-section="usage"]').hidden = !available;
    // Tells a test (or a curious operator) that the check is over.
    elements.nav.dataset.usageChecked = String(available);
  });
}

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  for (const section of Object.values(sections)) section.element.hidden = true;
  elements.nav.hidden = true;
  elements.signOut.hidden = true;
  elements.signIn.hidden = false;
  elements.tokenInput.value = "";
  if (reason) say(reason, "error");
  else clearMessage();
  elements.tokenInput.focus();
}

elements.signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = elements.tokenInput.value.trim();
  if (!token) return;
  try {
    await request("/admin/tenants", { adminToken: token });
  } catch (error) {
    say(error instanceof ApiError && error.status === 401 ? "That admin token is not this deployment's." : error.message, "error");
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  clearMessage();
  signedIn();
  elements.main.focus();
});

elements.signOut.addEventListener("click", () => signOut());

elements.nav.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-section]");
  if (button) {
    clearMessage();
    show(button.dataset.section);
  }
});

if (console_.token()) signedIn();
else elements.tokenInput.focus();
