// The dashboard, for owners and managers: today's revenue and orders, revenue by day
// (GET /dashboard/sales), payment methods, low stock and recent orders, with the chatbot beside.

import { h, replaceChildren, formatDateTime } from "../common/api.js";
import * as session from "./session.js";
import { attempt } from "./notices.js";
import { drawRevenueChart, revenueTable } from "./chart.js";
import { renderChatbot } from "./chatbot.js";
import { statusBadge } from "./today.js";
import { paymentLabel } from "./receipt.js";

const RANGES = [7, 14, 30, 90];

export function renderDashboard(container) {
  const state = { days: 14, sales: null };
  const tiles = h("div", { class: "tiles", id: "dashboard-tiles", "aria-busy": "true" });
  const chartHolder = h("div", { class: "chart-holder" });
  const chartTable = h("div");
  const methods = h("div", { id: "payment-methods" });
  const lowStock = h("div", { id: "low-stock" });
  const recent = h("div", { id: "recent-orders" });
  const chat = h("aside", { class: "card chat", "aria-labelledby": "chat-heading" });
  const range = h("select", { id: "sales-range" }, RANGES.map((days) => h("option", { value: String(days) }, `Last ${days} days`)));
  range.value = String(state.days);
  range.addEventListener("change", () => {
    state.days = Number(range.value);
    loadSales();
  });
  const refresh = h("button", { type: "button", class: "button", id: "dashboard-refresh", onclick: () => load() }, "Refresh");

  container.append(
    h("div", { class: "page-heading" }, h("h1", null, "Dashboard"), refresh),
    h("div", { class: "dashboard" },
      h("div", { class: "dashboard-main" },
        tiles,
        h("section", { class: "card", "aria-labelledby": "chart-heading" },
          h("div", { class: "section-heading" },
            h("h2", { id: "chart-heading" }, "Revenue by day"),
            h("div", { class: "field field-inline" }, h("label", { for: "sales-range", class: "visually-hidden" }, "Period"), range)),
          chartHolder,
          chartTable),
        h("div", { class: "dashboard-columns" },
          h("section", { class: "card", "aria-labelledby": "methods-heading" }, h("h2", { id: "methods-heading" }, "Payment methods"), methods),
          h("section", { class: "card", "aria-labelledby": "low-heading" }, h("h2", { id: "low-heading" }, "Low stock"), lowStock)),
        h("section", { class: "card", "aria-labelledby": "recent-heading" }, h("h2", { id: "recent-heading" }, "Recent orders"), recent),
      ),
      chat,
    ),
  );
  renderChatbot(chat);

  function drawSummary(summary) {
    tiles.setAttribute("aria-busy", "false");
    replaceChildren(tiles,
      tile("today-revenue", "Today's revenue", session.money(summary.orders.today_revenue), summary.orders.today_revenue),
      tile("today-orders", "Today's orders", String(summary.orders.today_count), summary.orders.today_count),
      tile("total-revenue", "Revenue, all time", session.money(summary.orders.revenue), summary.orders.revenue),
      tile("product-count", "Products", String(summary.inventory.product_count), summary.inventory.product_count));

    const byMethod = summary.payments.by_method || {};
    const total = (byMethod.cash || 0) + (byMethod.card || 0);
    replaceChildren(methods, h("ul", { class: "meter-list" }, ["cash", "card"].map((method) => {
      const amount = byMethod[method] || 0;
      const share = total > 0 ? Math.round((amount * 100) / total) : 0;
      return h("li", { "data-method": method, "data-amount": amount },
        h("div", { class: "meter-label" }, h("span", null, method === "cash" ? "Cash" : "Card"), h("span", { class: "number" }, `${session.money(amount)} · ${share}%`)),
        h("div", { class: "meter", role: "presentation" }, h("div", { class: `meter-fill meter-${method}`, "data-share": share })));
    })));
    for (const fill of methods.querySelectorAll(".meter-fill")) fill.style.width = `${fill.dataset.share}%`;

    const low = summary.inventory.low_stock || [];
    replaceChildren(lowStock, low.length === 0
      ? h("p", { class: "muted" }, "Nothing is running low.")
      : h("ul", { class: "plain-list" }, low.map((product) =>
        h("li", { class: "low-stock-item", "data-product-id": product.id },
          h("span", null, product.name),
          h("span", { class: "badge badge-warning" }, `${product.stock} left`)))));

    const orders = summary.orders.recent || [];
    replaceChildren(recent, orders.length === 0
      ? h("p", { class: "muted" }, "No orders yet.")
      : h("div", { class: "table-scroll" }, h("table", { class: "table table-cards", id: "recent-orders-table" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Order"), h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Paid by"), h("th", { scope: "col", class: "number" }, "Total"), h("th", { scope: "col" }, "Status"))),
        h("tbody", null, orders.map((order) => h("tr", { "data-order-id": order.id },
          h("th", { scope: "row" }, order.order_number),
          h("td", { "data-label": "When" }, formatDateTime(order.created_at, session.timezone())),
          h("td", { "data-label": "Paid by" }, paymentLabel(order)),
          h("td", { class: "number", "data-label": "Total" }, session.money(order.total_amount)),
          h("td", { "data-label": "Status" }, statusBadge(order.status))))))));
  }

  function drawChart() {
    if (!state.sales) return;
    const width = Math.max(Math.floor(chartHolder.clientWidth), 280);
    drawRevenueChart(chartHolder, state.sales, (minor) => session.money(minor), width);
    replaceChildren(chartTable, revenueTable(state.sales, (minor) => session.money(minor)));
  }

  async function loadSales() {
    const sales = await attempt(() => session.api(`/dashboard/sales?days=${state.days}`));
    if (!sales) return;
    state.sales = sales;
    drawChart();
  }

  async function load() {
    const summary = await attempt(() => session.api("/dashboard/summary"), refresh);
    if (summary) drawSummary(summary);
    await loadSales();
  }

  // Redraw at the holder's own width (a phone turned sideways, a window resized).
  let lastWidth = 0;
  const observer = new ResizeObserver(() => {
    const width = Math.floor(chartHolder.clientWidth);
    if (Math.abs(width - lastWidth) < 8) return;
    lastWidth = width;
    drawChart();
  });
  observer.observe(chartHolder);
  load();
  return () => observer.disconnect();
}

function tile(id, label, text, value) {
  return h("div", { class: "tile", id, "data-value": value },
    h("span", { class: "tile-label" }, label),
    h("span", { class: "tile-value" }, text));
}
