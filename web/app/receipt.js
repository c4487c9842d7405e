// The receipt of one order, from the server's answer: order number, lines, subtotal, tax,
// total in the tenant's currency, how it was paid, and the tenant's receipt footer.

import { h, formatDateTime } from "../common/api.js";
import * as session from "./session.js";

const METHOD_LABELS = { cash: "Cash", card: "Card" };

export function paymentLabel(order) {
  const method = order.payment ? order.payment.method : "cash";
  return METHOD_LABELS[method] || method;
}

/** A receipt element; `data-*` attributes carry the amounts in minor units for tests and tools. */
export function receiptElement(order) {
  const settings = session.session().settings || {};
  const money = (minor) => session.money(minor);
  const rows = order.items.map((item) =>
    h(
      "tr",
      { class: "receipt-line" },
      h("td", { class: "receipt-item" }, item.name, h("small", { class: "muted receipt-sku" }, item.sku)),
      h("td", { class: "number" }, `${item.quantity} × ${money(item.unit_price)}`),
      h("td", { class: "number" }, money(item.line_total)),
    ),
  );
  return h(
    "article",
    {
      class: "receipt",
      "aria-label": `Receipt ${order.order_number}`,
      "data-order-id": order.id,
      "data-order-number": order.order_number,
      "data-subtotal": order.subtotal,
      "data-tax": order.tax,
      "data-total": order.total_amount,
      "data-status": order.status,
    },
    h("header", { class: "receipt-header" },
      h("p", { class: "receipt-business" }, settings.name || session.session().tenantId),
      h("p", { class: "receipt-number" }, h("span", { class: "muted" }, "Order "), h("strong", { class: "receipt-order-number" }, order.order_number)),
      h("p", { class: "muted" }, formatDateTime(order.created_at, settings.timezone)),
      order.status === "refunded" ? h("p", { class: "badge badge-warning" }, "Refunded") : null,
    ),
    h("table", { class: "receipt-lines" },
      h("caption", { class: "visually-hidden" }, "Items"),
      h("thead", { class: "visually-hidden" }, h("tr", null, h("th", { scope: "col" }, "Item"), h("th", { scope: "col" }, "Quantity"), h("th", { scope: "col" }, "Amount"))),
      h("tbody", null, rows),
    ),
    h("dl", { class: "receipt-totals" },
      h("div", null, h("dt", null, "Subtotal"), h("dd", { class: "receipt-subtotal" }, money(order.subtotal))),
      h("div", null, h("dt", null, "Tax"), h("dd", { class: "receipt-tax" }, money(order.tax))),
      h("div", { class: "receipt-total-row" }, h("dt", null, "Total"), h("dd", { class: "receipt-total" }, money(order.total_amount))),
      h("div", null, h("dt", null, "Paid by"), h("dd", { class: "receipt-method" }, paymentLabel(order))),
    ),
    settings.receipt_footer ? h("p", { class: "receipt-footer" }, settings.receipt_footer) : null,
  );
}

/** 825 basis points → "8.25%". */
export function formatRate(basisPoints) {
  const bps = Number(basisPoints) || 0;
  return `${(bps / 100).toLocaleString(undefined, { maximumFractionDigits: 2 })}%`;
}
