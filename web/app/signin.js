// Sign-in: tenant id, username and password (API.md §4). On success the session holds the
// token, the user (for the role) and the tenant's settings (for currency and receipts).

import { h, replaceChildren } from "../common/api.js";
import * as session from "./session.js";
import { attempt } from "./notices.js";
import { field } from "./forms.js";

export function renderSignIn(container, { tenantId, onSignedIn }) {
  container.dataset.page = "sign-in";
  const tenantInput = h("input", {
    id: "sign-in-tenant",
    name: "tenant",
    required: true,
    autocomplete: "organization",
    autocapitalize: "none",
    spellcheck: "false",
    pattern: "[a-z][a-z0-9_]{2,39}",
    title: "Lowercase letters, digits and underscores, starting with a letter",
    value: tenantId || "",
  });
  const usernameInput = h("input", { id: "sign-in-username", name: "username", required: true, autocomplete: "username", autocapitalize: "none", spellcheck: "false" });
  const passwordInput = h("input", { id: "sign-in-password", name: "password", type: "password", required: true, autocomplete: "current-password" });
  const submit = h("button", { type: "submit", id: "sign-in-submit", class: "button button-primary button-large" }, "Sign in");
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "sign-in-heading" },
    field("Business (tenant id)", tenantInput),
    field("Username", usernameInput),
    field("Password", passwordInput),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const signedIn = await attempt(
      () => session.signIn(tenantInput.value.trim(), usernameInput.value.trim(), passwordInput.value),
      submit,
    );
    if (signedIn) onSignedIn();
  });
  replaceChildren(
    container,
    h(
      "section",
      { class: "sign-in card" },
      h("p", { class: "sign-in-brand" }, h("span", { class: "app-logo", "aria-hidden": "true" }, "◼"), " tenantpos", h("span", { class: "muted" }, " · point of sale")),
      h("h1", { id: "sign-in-heading" }, "Sign in"),
      h("p", { class: "muted" }, "Staff sign-in for the till, the back office and the dashboard."),
      form,
    ),
  );
  (tenantInput.value ? usernameInput : tenantInput).focus();
}
