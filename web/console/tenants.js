// The tenants table and what an operator does to a tenant: create, suspend/resume, move,
// export (download), import (upload) and delete (confirmed by typing the id).

import { h, replaceChildren } from "../common/api.js";

const STRATEGY_LABELS = { shared: "Shared tables", schema: "Own schema", database: "Own database" };

function statusBadge(tenant) {
  if (tenant.moving) return h("span", { class: "badge badge-warning" }, "moving");
  const kind = tenant.status === "active" ? "badge-success" : "badge-danger";
  return h("span", { class: `badge ${kind}` }, tenant.status);
}

/** The small modal every action uses: a title, fields, an error line, Cancel and Confirm. */
function createDialog() {
  const dialog = document.getElementById("action-dialog");
  const form = document.getElementById("action-form");
  const title = document.getElementById("action-title");
  const body = document.getElementById("action-body");
  const error = document.getElementById("action-error");
  const confirm = document.getElementById("action-confirm");
  let onConfirm = null;

  document.getElementById("action-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!onConfirm || confirm.disabled) return;
    error.textContent = "";
    confirm.disabled = true;
    const label = confirm.textContent;
    confirm.textContent = "Working…";
    try {
      await onConfirm();
      dialog.close();
    } catch (failure) {
      error.textContent = failure.message || String(failure);
    } finally {
      confirm.textContent = label;
      confirm.disabled = false;
    }
  });

  /**
   * @param {{title: string, fields: Node[], confirmLabel: string, danger?: boolean,
   *          action: () => Promise<void>, ready?: () => boolean}} options
   */
  function open({ title: text, fields, confirmLabel, danger = false, action, ready }) {
    title.textContent = text;
    replaceChildren(body, ...fields);
    error.textContent = "";
    confirm.textContent = confirmLabel;
    confirm.className = danger ? "danger" : "primary";
    onConfirm = action;
    const update = () => {
      confirm.disabled = ready ? !ready() : false;
    };
    body.oninput = update;
    body.onchange = update;
    update();
    dialog.showModal();
    const first = body.querySelector("input, select");
    if (first) first.focus();
  }

  return { open };
}

function labelled(id, label, control, hint) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("span", { class: "field-hint", id: `${id}-hint` }, hint) : null);
}

function strategySelect(id, selected) {
  return h(
    "select",
    { id, value: selected },
    Object.entries(STRATEGY_LABELS).map(([value, label]) => h("option", { value }, label)),
  );
}

/** Saves `blob` as a file named `name`, the way a link with `download` does. */
function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function createTenantsSection(context) {
  const element = document.getElementById("section-tenants");
  const tableBody = document.getElementById("tenants-body");
  const empty = document.getElementById("tenants-empty");
  const createForm = document.getElementById("create-tenant");
  const showCreate = document.getElementById("show-create");
  const strategy = document.getElementById("new-strategy");
  const cluster = document.getElementById("new-cluster");
  const dialog = createDialog();

  async function load() {
    let tenants;
    try {
      tenants = await context.api("/admin/tenants");
    } catch (error) {
      context.fail(error);
      return;
    }
    tenants.sort((a, b) => a.id.localeCompare(b.id));
    replaceChildren(tableBody, tenants.map(row));
    empty.hidden = tenants.length > 0;
  }

  function row(tenant) {
    const suspended = tenant.status === "suspended";
    const named = (verb) => `${verb} ${tenant.id}`;
    return h(
      "tr",
      { "data-tenant": tenant.id },
      h("th", { scope: "row" }, h("span", { class: "mono" }, tenant.id)),
      h("td", null, tenant.name),
      h("td", null, STRATEGY_LABELS[tenant.strategy] || tenant.strategy),
      h("td", null, tenant.cluster || "default"),
      h("td", null, statusBadge(tenant)),
      h(
        "td",
        { class: "actions" },
        h("div", { class: "row action-buttons" },
          h("button", { type: "button", class: "small", "data-action": suspended ? "resume" : "suspend", "aria-label": named(suspended ? "Resume" : "Suspend"), onclick: () => setStatus(tenant, suspended ? "resume" : "suspend") }, suspended ? "Resume" : "Suspend"),
          h("button", { type: "button", class: "small", "data-action": "move", "aria-label": named("Move"), onclick: () => move(tenant) }, "Move"),
          h("button", { type: "button", class: "small", "data-action": "export", "aria-label": named("Export"), onclick: () => exportTenant(tenant) }, "Export"),
          h("button", { type: "button", class: "small", "data-action": "import", "aria-label": named("Import into"), onclick: () => importTenant(tenant) }, "Import"),
          h("button", { type: "button", class: "small danger-quiet", "data-action": "delete", "aria-label": named("Delete"), onclick: () => remove(tenant) }, "Delete"),
        ),
      ),
    );
  }

  async function setStatus(tenant, verb) {
    try {
      const updated = await context.api(`/admin/tenants/${encodeURIComponent(tenant.id)}/${verb}`, { method: "POST" });
      context.say(`${updated.id} is ${updated.status}.`, "success");
      await load();
    } catch (error) {
      context.fail(error);
    }
  }

  function move(tenant) {
    const target = strategySelect("move-strategy", tenant.strategy === "shared" ? "schema" : "shared");
    const targetCluster = h("input", { id: "move-cluster", placeholder: "default", autocomplete: "off" });
    const syncCluster = () => {
      targetCluster.disabled = target.value !== "database";
      if (targetCluster.disabled) targetCluster.value = "";
    };
    target.addEventListener("change", syncCluster);
    syncCluster();
    dialog.open({
      title: `Move ${tenant.id}`,
      fields: [
        h("p", { class: "muted" }, `Now: ${STRATEGY_LABELS[tenant.strategy] || tenant.strategy}, cluster ${tenant.cluster || "default"}. Its requests wait while the rows are copied and verified.`),
        labelled("move-strategy", "New isolation", target),
        labelled("move-cluster", "Cluster (own database only)", targetCluster),
      ],
      confirmLabel: "Move tenant",
      action: async () => {
        const body = { strategy: target.value };
        if (target.value === "database" && targetCluster.value.trim()) body.cluster = targetCluster.value.trim();
        const moved = await context.api(`/admin/tenants/${encodeURIComponent(tenant.id)}/move`, { method: "POST", body });
        context.say(`${moved.id} moved to ${STRATEGY_LABELS[moved.strategy] || moved.strategy} (cluster ${moved.cluster || "default"}).`, "success");
        await load();
      },
    });
  }

  async function exportTenant(tenant) {
    try {
      const response = await context.api(`/admin/tenants/${encodeURIComponent(tenant.id)}/export`, {
        raw: true,
        headers: { accept: "application/x-ndjson" },
      });
      const blob = await response.blob();
      const text = await blob.text();
      const lines = text.split("\n").filter((line) => line.trim()).length;
      saveFile(new Blob([text], { type: "application/x-ndjson" }), `${tenant.id}-export.ndjson`);
      context.say(`Exported ${tenant.id}: ${lines} lines saved as ${tenant.id}-export.ndjson.`, "success");
    } catch (error) {
      context.fail(error);
    }
  }

  function importTenant(tenant) {
    const file = h("input", { id: "import-file", type: "file", accept: ".ndjson,.jsonl,application/x-ndjson" });
    dialog.open({
      title: `Import into ${tenant.id}`,
      fields: [
        h("p", { class: "muted" }, "Upload an export. The tenant must hold no products, orders or payments yet; its settings are replaced, users added."),
        labelled("import-file", "Export file", file),
      ],
      confirmLabel: "Upload and import",
      ready: () => file.files.length === 1,
      action: async () => {
        const text = await file.files[0].text();
        const report = await context.api(`/admin/tenants/${encodeURIComponent(tenant.id)}/import`, {
          method: "POST",
          body: text,
          headers: { "content-type": "application/x-ndjson" },
        });
        const added = Object.entries(report).map(([table, count]) => `${count} ${table}`).join(", ");
        context.say(`Imported into ${tenant.id}: ${added}.`, "success");
        await load();
      },
    });
  }

  function remove(tenant) {
    const typed = h("input", { id: "delete-confirmation", autocomplete: "off", spellcheck: "false", "aria-describedby": "delete-confirmation-hint" });
    dialog.open({
      title: `Delete ${tenant.id}`,
      fields: [
        h("p", null, "Its data, users, tokens and cached entries are removed for good. Export it first if you may need it."),
        labelled("delete-confirmation", `Type ${tenant.id} to confirm`, typed, "The delete button is enabled when the id matches."),
      ],
      confirmLabel: "Delete tenant",
      danger: true,
      ready: () => typed.value === tenant.id,
      action: async () => {
        await context.api(`/admin/tenants/${encodeURIComponent(tenant.id)}`, { method: "DELETE" });
        context.say(`${tenant.id} was deleted.`, "success");
        await load();
      },
    });
  }

  function toggleCreate(open) {
    createForm.hidden = !open;
    showCreate.setAttribute("aria-expanded", String(open));
    if (open) document.getElementById("new-id").focus();
    else showCreate.focus();
  }

  showCreate.addEventListener("click", () => toggleCreate(createForm.hidden));
  document.getElementById("cancel-create").addEventListener("click", () => toggleCreate(false));
  document.getElementById("refresh-tenants").addEventListener("click", load);
  strategy.addEventListener("change", () => {
    cluster.disabled = strategy.value !== "database";
    if (cluster.disabled) cluster.value = "";
  });

  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = (name) => createForm.elements[name].value.trim();
    const body = {
      id: field("id"),
      name: field("name"),
      business_type: field("business_type"),
      strategy: field("strategy"),
      owner: { username: field("owner_username"), password: createForm.elements.owner_password.value },
    };
    if (body.strategy === "database" && field("cluster")) body.cluster = field("cluster");
    try {
      const created = await context.api("/admin/tenants", { method: "POST", body });
      context.say(`${created.id} was created. Its owner signs in at /app/ as ${body.owner.username}.`, "success");
      createForm.reset();
      cluster.disabled = true;
      toggleCreate(false);
      await load();
    } catch (error) {
      context.fail(error);
    }
  });

  return { element, load };
}
