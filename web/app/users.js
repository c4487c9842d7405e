// Users, for owners: the tenant's staff, add one (username, password, role), remove one.

import { h, replaceChildren, formatDateTime } from "../common/api.js";
import * as session from "./session.js";
import { attempt, showSuccess } from "./notices.js";
import { field } from "./forms.js";

export function renderUsers(container) {
  const state = { users: [] };
  const tableBody = h("tbody");
  const username = h("input", { id: "user-username", required: true, autocomplete: "off", autocapitalize: "none", pattern: "[A-Za-z0-9_.@\\-]{3,64}", spellcheck: "false" });
  const password = h("input", { id: "user-password", type: "password", required: true, minlength: "10", autocomplete: "new-password" });
  const role = h("select", { id: "user-role" }, ["cashier", "manager", "owner"].map((value) => h("option", { value }, value.charAt(0).toUpperCase() + value.slice(1))));
  const save = h("button", { type: "submit", id: "user-save", class: "button button-primary" }, "Add user");
  const form = h("form", { class: "stack", id: "user-form" },
    field("Username", username, "3 to 64 letters, digits or . _ @ -"),
    field("Password", password, "At least 10 characters."),
    field("Role", role),
    save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const created = await attempt(
      () => session.api("/auth/register", { method: "POST", body: { username: username.value.trim(), password: password.value, role: role.value } }),
      save,
    );
    if (!created) return;
    form.reset();
    showSuccess(`${created.username} can now sign in as ${created.role}.`);
    state.users.push(created);
    draw();
  });

  container.append(
    h("div", { class: "page-heading" }, h("h1", null, "Users")),
    h("div", { class: "split split-form" },
      h("section", { class: "card", "aria-label": "Staff" },
        h("div", { class: "table-scroll" },
          h("table", { class: "table table-cards", id: "users-table" },
            h("thead", null, h("tr", null,
              h("th", { scope: "col" }, "Username"),
              h("th", { scope: "col" }, "Role"),
              h("th", { scope: "col" }, "Since"),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
            tableBody))),
      h("section", { class: "card", "aria-labelledby": "user-form-heading" }, h("h2", { id: "user-form-heading" }, "New user"), form),
    ),
  );

  function draw() {
    const me = session.session().user.id;
    replaceChildren(tableBody, state.users.map((user) => {
      const actions = h("td", { class: "actions" });
      const showActions = () => replaceChildren(actions, user.id === me
        ? h("span", { class: "muted" }, "You")
        : h("button", { type: "button", class: "button button-quiet", "aria-label": `Remove ${user.username}`, onclick: confirmRemove }, "Remove"));
      function confirmRemove() {
        const confirm = h("button", { type: "button", class: "button button-danger", onclick: () => remove(user, confirm) }, `Remove ${user.username}`);
        replaceChildren(actions, confirm, h("button", { type: "button", class: "button button-quiet", onclick: showActions }, "Cancel"));
        confirm.focus();
      }
      showActions();
      return h("tr", { "data-user-id": user.id },
        h("th", { scope: "row" }, user.username),
        h("td", { "data-label": "Role" }, h("span", { class: "badge" }, user.role)),
        h("td", { "data-label": "Since" }, formatDateTime(user.created_at, session.timezone())),
        actions);
    }));
  }

  async function remove(user, button) {
    const done = await attempt(async () => {
      await session.api(`/users/${encodeURIComponent(user.id)}`, { method: "DELETE" });
      return true;
    }, button);
    if (!done) return;
    state.users = state.users.filter((candidate) => candidate.id !== user.id);
    showSuccess(`${user.username} removed; their sessions end now.`);
    draw();
  }

  attempt(() => session.api("/users")).then((users) => {
    if (!users) return;
    state.users = users;
    draw();
  });
}
