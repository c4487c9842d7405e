// Today's orders at the till, newest first, each with its receipt a tap away.

import { h, replaceChildren } from "../common/api.js";
import * as session from "./session.js";
import { attempt } from "./notices.js";
import { loadTodaysOrders } from "./catalog.js";
import { timeIn } from "./dates.js";
import { paymentLabel } from "./receipt.js";

export function renderTodaysOrders(section, { onShowReceipt }) {
  const body = h("div", { class: "today-body", "aria-busy": "true" });
  replaceChildren(
    section,
    h("div", { class: "section-heading" },
      h("h2", { id: "today-heading" }, "Today's orders"),
      h("button", { type: "button", class: "button button-quiet", onclick: () => reload() }, "Refresh"),
    ),
    body,
  );

  function draw(orders) {
    body.setAttribute("aria-busy", "false");
    if (orders.length === 0) {
      replaceChildren(body, h("p", { class: "muted" }, "No orders yet today."));
      return;
    }
    const paid = orders.filter((order) => order.status === "paid");
    const takings = paid.reduce((sum, order) => sum + order.total_amount, 0);
    replaceChildren(
      body,
      h("p", { class: "today-summary" }, `${orders.length} ${orders.length === 1 ? "order" : "orders"}, ${session.money(takings)} taken`),
      h("div", { class: "table-scroll" },
        h("table", { class: "table table-cards", id: "todays-orders" },
          h("thead", null, h("tr", null,
            h("th", { scope: "col" }, "Order"),
            h("th", { scope: "col" }, "Time"),
            h("th", { scope: "col" }, "Paid by"),
            h("th", { scope: "col", class: "number" }, "Total"),
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Receipt")),
          )),
          h("tbody", null, orders.map((order) =>
            h("tr", { "data-order-id": order.id, "data-order-number": order.order_number },
              h("th", { scope: "row" }, order.order_number),
              h("td", { "data-label": "Time" }, timeIn(order.created_at, session.timezone())),
              h("td", { "data-label": "Paid by" }, paymentLabel(order)),
              h("td", { class: "number", "data-label": "Total" }, session.money(order.total_amount)),
              h("td", { "data-label": "Status" }, statusBadge(order.status)),
              h("td", { class: "actions" }, h("button", { type: "button", class: "button button-quiet", "aria-label": `Receipt of ${order.order_number}`, onclick: () => onShowReceipt(order) }, "Receipt")),
            ),
          )),
        ),
      ),
    );
  }

  async function reload() {
    const orders = await attempt(loadTodaysOrders);
    if (orders) draw(orders);
  }

  return { reload };
}

export function statusBadge(status) {
  return h("span", { class: `badge ${status === "refunded" ? "badge-warning" : "badge-success"}` }, status === "refunded" ? "Refunded" : "Paid");
}
