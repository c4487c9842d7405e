// Analytics (every tenant's orders and revenue) and the usage top list of /admin/usage.

import { ApiError, formatMoney, h, replaceChildren } from "../common/api.js";

function stat(label, value) {
  return h("div", { class: "card stat" }, h("span", { class: "stat-label" }, label), h("span", { class: "stat-value number" }, value));
}

/** Revenue per currency, since tenants may sell in different ones. */
function revenueByCurrency(rows) {
  const totals = new Map();
  for (const row of rows) totals.set(row.currency, (totals.get(row.currency) || 0) + row.revenue);
  return [...totals.entries()].map(([currency, minor]) => formatMoney(minor, currency)).join(" · ") || "—";
}

export function createAnalyticsSection(context) {
  const element = document.getElementById("section-analytics");
  const body = document.getElementById("analytics-body");
  const totals = document.getElementById("analytics-totals");

  async function load() {
    let rows;
    try {
      rows = await context.api("/admin/analytics");
    } catch (error) {
      context.fail(error);
      return;
    }
    rows.sort((a, b) => b.orders - a.orders || a.tenant_id.localeCompare(b.tenant_id));
    const allOrders = rows.reduce((sum, row) => sum + row.orders, 0);
    replaceChildren(
      totals,
      stat("Tenants", String(rows.length)),
      stat("Orders", allOrders.toLocaleString()),
      stat("Revenue", revenueByCurrency(rows)),
    );
    replaceChildren(
      body,
      rows.map((row) => {
        const share = allOrders ? Math.round((row.orders / allOrders) * 100) : 0;
        const bar = h("span", { class: "share-bar", role: "img", "aria-label": `${share}% of all orders` });
        bar.appendChild(h("span", { class: "share-fill" }));
        // A CSSOM property, not a style attribute: allowed by the CSP.
        bar.firstChild.style.width = `${share}%`;
        return h(
          "tr",
          null,
          h("th", { scope: "row" }, h("span", { class: "mono" }, row.tenant_id)),
          h("td", { class: "number" }, row.orders.toLocaleString()),
          h("td", { class: "number" }, formatMoney(row.revenue, row.currency)),
          h("td", null, bar),
        );
      }),
    );
    if (!rows.length) body.appendChild(h("tr", null, h("td", { colspan: "4", class: "empty" }, "No tenants yet.")));
  }

  document.getElementById("refresh-analytics").addEventListener("click", load);
  return { element, load };
}

export function createUsageSection(context) {
  const element = document.getElementById("section-usage");
  const body = document.getElementById("usage-body");

  async function fetchUsage() {
    return context.api("/admin/usage?top=20");
  }

  async function load() {
    let rows;
    try {
      rows = await fetchUsage();
    } catch (error) {
      context.fail(error);
      return;
    }
    replaceChildren(
      body,
      rows.map((row) =>
        h(
          "tr",
          null,
          h("th", { scope: "row" }, h("span", { class: "mono" }, row.tenant_id)),
          h("td", { class: "number" }, Number(row.requests).toLocaleString()),
          h("td", { class: "number" }, Number(row.errors).toLocaleString()),
          h("td", { class: "number" }, Number(row.rate_limited).toLocaleString()),
          h("td", { class: "number" }, `${Number(row.db_time_ms).toLocaleString()} ms`),
        ),
      ),
    );
    if (!rows.length) body.appendChild(h("tr", null, h("td", { colspan: "5", class: "empty" }, "No requests in the last hour.")));
  }

  /** Whether this deployment answers /admin/usage (it is newer than the rest of the console). */
  async function available() {
    try {
      const rows = await fetchUsage();
      return Array.isArray(rows);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return false;
    }
  }

  document.getElementById("refresh-usage").addEventListener("click", load);
  return { element, load, available };
}
