// Orders, for owners and managers: newest first, page by page, each with its receipt and a
// refund (confirmed in place, so a stray tap refunds nothing).

import { h, replaceChildren, formatDateTime } from "../common/api.js";
import * as session from "./session.js";
import { attempt, showSuccess } from "./notices.js";
import { loadOrders } from "./catalog.js";
import { receiptElement, paymentLabel } from "./receipt.js";
import { statusBadge } from "./today.js";
import { newIdempotencyKey } from "./keys.js";

const PAGE = 50;

export function renderOrders(container) {
  const state = { orders: [], exhausted: false, selected: null };
  const tableBody = h("tbody");
  const more = h("button", { type: "button", class: "button", id: "orders-more", onclick: () => loadMore() }, "Load more");
  const detail = h("aside", { class: "card orders-detail", "aria-label": "Selected order", hidden: true });

  container.append(
    h("div", { class: "page-heading" }, h("h1", null, "Orders")),
    h("div", { class: "split split-single", id: "orders-split" },
      h("section", { class: "card", "aria-label": "All orders" },
        h("div", { class: "table-scroll" },
          h("table", { class: "table table-cards", id: "orders-table" },
            h("thead", null, h("tr", null,
              h("th", { scope: "col" }, "Order"),
              h("th", { scope: "col" }, "When"),
              h("th", { scope: "col" }, "Paid by"),
              h("th", { scope: "col", class: "number" }, "Total"),
              h("th", { scope: "col" }, "Status"),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
            )),
            tableBody,
          ),
        ),
        h("div", { class: "row" }, more),
      ),
      detail,
    ),
  );

  function draw() {
    if (state.orders.length === 0) {
      replaceChildren(tableBody, h("tr", null, h("td", { colspan: "6", class: "muted" }, "No orders yet.")));
    } else {
      replaceChildren(tableBody, state.orders.map(orderRow));
    }
    more.hidden = state.exhausted;
  }

  function orderRow(order) {
    const actions = h("td", { class: "actions" });
    const showActions = () => {
      replaceChildren(
        actions,
        h("button", { type: "button", class: "button button-quiet", "aria-label": `Show ${order.order_number}`, onclick: () => select(order) }, "Show"),
        order.status === "paid"
          ? h("button", { type: "button", class: "button", "data-action": "refund", "aria-label": `Refund ${order.order_number}`, onclick: confirmRefund }, "Refund")
          : null,
      );
    };
    function confirmRefund() {
      const confirm = h("button", { type: "button", class: "button button-danger", "data-action": "confirm-refund", onclick: () => refund(order, confirm) }, `Confirm refund of ${session.money(order.total_amount)}`);
      replaceChildren(actions, confirm, h("button", { type: "button", class: "button button-quiet", onclick: showActions }, "Cancel"));
      confirm.focus();
    }
    showActions();
    return h(
      "tr",
      { "data-order-id": order.id, "data-order-number": order.order_number, "data-status": order.status, class: state.selected === order.id ? "selected" : null },
      h("th", { scope: "row" }, order.order_number),
      h("td", { "data-label": "When" }, formatDateTime(order.created_at, session.timezone())),
      h("td", { "data-label": "Paid by" }, paymentLabel(order)),
      h("td", { class: "number", "data-label": "Total" }, session.money(order.total_amount)),
      h("td", { "data-label": "Status" }, statusBadge(order.status)),
      actions,
    );
  }

  function select(order) {
    state.selected = order.id;
    detail.hidden = false;
    container.querySelector("#orders-split").classList.remove("split-single");
    const heading = h("h2", { tabindex: "-1" }, "Receipt");
    replaceChildren(detail, heading, receiptElement(order));
    draw();
    // On a phone the receipt is below the list: bring it into view.
    heading.scrollIntoView({ block: "nearest" });
  }

  async function refund(order, button) {
    const refunded = await attempt(
      () => session.api(`/orders/${encodeURIComponent(order.id)}/refund`, { method: "POST", headers: { "idempotency-key": newIdempotencyKey() } }),
      button,
    );
    if (!refunded) return;
    state.orders = state.orders.map((candidate) => (candidate.id === refunded.id ? refunded : candidate));
    showSuccess(`Order ${refunded.order_number} refunded: ${session.money(refunded.total_amount)}.`);
    draw();
    if (state.selected === refunded.id) select(refunded);
    const row = tableBody.querySelector(`tr[data-order-id="${CSS.escape(refunded.id)}"] th`);
    if (row) {
      row.setAttribute("tabindex", "-1");
      row.focus();
    }
  }

  async function loadMore() {
    const after = state.orders.length ? state.orders[state.orders.length - 1].id : null;
    const page = await attempt(() => loadOrders(after, PAGE), more);
    if (!page) return;
    state.orders.push(...page);
    state.exhausted = page.length < PAGE;
    draw();
  }

  draw();
  loadMore();
}
