// Reads of the tenant's products and orders, page by page with the keyset cursors of API.md §5–§6.

import * as session from "./session.js";
import { dayIn, todayIn } from "./dates.js";

const PRODUCT_PAGE = 500;
const ORDER_PAGE = 100;
/** Enough for a very busy day at one till; the dashboard has the totals beyond it. */
const MAX_ORDER_PAGES = 20;

/** Every live product, by name. */
export async function loadAllProducts() {
  const products = [];
  let after = null;
  for (;;) {
    const query = new URLSearchParams({ limit: String(PRODUCT_PAGE) });
    if (after) query.set("after", after);
    const page = await session.api(`/products?${query}`);
    products.push(...page);
    if (page.length < PRODUCT_PAGE) return products;
    after = page[page.length - 1].id;
  }
}

/** One page of orders, newest first, after the order id `after` (or from the newest). */
export function loadOrders(after, limit = ORDER_PAGE) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (after) query.set("after", after);
  return session.api(`/orders?${query}`);
}

/** The orders of the tenant's today, newest first. */
export async function loadTodaysOrders() {
  const timeZone = session.timezone();
  const today = todayIn(timeZone);
  const todays = [];
  let after = null;
  for (let pageNumber = 0; pageNumber < MAX_ORDER_PAGES; pageNumber += 1) {
    const page = await loadOrders(after);
    for (const order of page) {
      if (dayIn(order.created_at, timeZone) !== today) return todays;
      todays.push(order);
    }
    if (page.length < ORDER_PAGE) return todays;
    after = page[page.length - 1].id;
  }
  return todays;
}

/** Categories present among `products`, sorted, products without one under "Other". */
export function categoriesOf(products) {
  const names = new Set(products.map((product) => product.category || ""));
  return [...names].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
}

export function categoryLabel(category) {
  if (!category) return "Other";
  return category.charAt(0).toUpperCase() + category.slice(1);
}

export function isLowStock(product) {
  return product.stock <= product.low_stock_threshold;
}
