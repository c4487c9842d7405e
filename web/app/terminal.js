// The POS terminal, for every role: products by category with search, the cart, payment in
// cash or by test card, the receipt, and today's orders.

import { h, replaceChildren } from "../common/api.js";
import * as session from "./session.js";
import { attempt, showSuccess } from "./notices.js";
import { Cart, taxOf, MAX_QUANTITY } from "./cart.js";
import { loadAllProducts, categoriesOf, categoryLabel } from "./catalog.js";
import { receiptElement } from "./receipt.js";
import { renderTodaysOrders } from "./today.js";
import { newIdempotencyKey } from "./keys.js";

/** The built-in card simulator's tokens (API.md §6). */
const TEST_CARDS = [
  { token: "tok_visa", label: "Visa (test, approved)" },
  { token: "tok_mastercard", label: "Mastercard (test, approved)" },
  { token: "tok_decline", label: "Declined card (test)" },
];

export function renderTerminal(container) {
  const cart = new Cart();
  const state = { products: [], category: null, search: "", lastReceipt: null, cartInView: false };

  const search = h("input", { id: "terminal-search", type: "search", placeholder: "Search by name or SKU", autocomplete: "off" });
  const categoryBar = h("div", { class: "category-bar", role: "group", "aria-label": "Categories" });
  const grid = h("ul", { class: "product-grid", id: "product-grid", "aria-label": "Products", "aria-busy": "true" });
  const cartPanel = h("div", { class: "cart-panel" });
  const today = h("section", { class: "card today", "aria-labelledby": "today-heading" });
  // On a phone the cart is below the products: a bar at the bottom says what is in it and
  // takes the cashier there.
  const cartBar = h("button", { type: "button", class: "cart-bar button-primary", id: "cart-bar", hidden: true, onclick: () => {
    const heading = document.getElementById("cart-heading");
    heading.setAttribute("tabindex", "-1");
    heading.scrollIntoView({ block: "start" });
    heading.focus({ preventScroll: true });
  } });

  container.append(
    h("div", { class: "page-heading" }, h("h1", null, "Terminal")),
    h(
      "div",
      { class: "terminal" },
      h(
        "section",
        { class: "terminal-products", "aria-labelledby": "terminal-products-heading" },
        h("h2", { id: "terminal-products-heading", class: "visually-hidden" }, "Products"),
        h("div", { class: "field terminal-search" }, h("label", { for: "terminal-search", class: "visually-hidden" }, "Search products"), search),
        categoryBar,
        grid,
      ),
      h("aside", { class: "terminal-cart card", "aria-labelledby": "cart-heading" }, cartPanel),
    ),
    today,
    cartBar,
  );

  // "change" too: a field cleared by a script or an assistive tool may fire only that.
  for (const event of ["input", "change"]) {
    search.addEventListener(event, () => {
      state.search = search.value.trim().toLowerCase();
      drawGrid();
    });
  }

  function visibleProducts() {
    return state.products.filter((product) => {
      if (state.category !== null && (product.category || "") !== state.category) return false;
      if (!state.search) return true;
      return product.name.toLowerCase().includes(state.search) || product.sku.toLowerCase().includes(state.search);
    });
  }

  function drawCategories() {
    const choices = [{ value: null, label: "All" }].concat(
      categoriesOf(state.products).map((category) => ({ value: category, label: categoryLabel(category) })),
    );
    replaceChildren(
      categoryBar,
      choices.map((choice) =>
        h(
          "button",
          {
            type: "button",
            class: "chip",
            "aria-pressed": String(state.category === choice.value),
            "data-category": choice.value === null ? "" : choice.value,
            onclick: () => {
              state.category = choice.value;
              drawCategories();
              drawGrid();
            },
          },
          choice.label,
        ),
      ),
    );
  }

  function drawGrid() {
    const products = visibleProducts();
    grid.setAttribute("aria-busy", "false");
    if (products.length === 0) {
      replaceChildren(grid, h("li", { class: "empty muted" }, state.products.length ? "No product matches." : "No products yet."));
      return;
    }
    replaceChildren(
      grid,
      products.map((product) => {
        const inCart = cart.lines.get(product.id);
        const available = product.stock - (inCart ? inCart.quantity : 0);
        return h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              class: "product-tile",
              "data-product-id": product.id,
              "data-sku": product.sku,
              disabled: available <= 0,
              "aria-label": `Add ${product.name}, ${session.money(product.price)}${available <= 0 ? ", out of stock" : ""}`,
              onclick: () => cart.add(product),
            },
            h("span", { class: "product-tile-name" }, product.name),
            h("span", { class: "product-tile-price" }, session.money(product.price)),
            h("span", { class: "product-tile-stock muted" }, available <= 0 ? "Out of stock" : `${available} left`),
          ),
        );
      }),
    );
  }

  function drawCart() {
    if (state.lastReceipt) {
      cartBar.hidden = true;
      drawReceipt(state.lastReceipt);
      return;
    }
    const settings = session.session().settings || {};
    const subtotal = cart.subtotal();
    const tax = taxOf(subtotal, Number(settings.tax_rate_bps) || 0);
    const lines = cart.entries().map((line) => cartLine(cart, line));
    cartBar.hidden = cart.isEmpty() || state.cartInView;
    replaceChildren(cartBar, `View sale · ${cart.count()} ${cart.count() === 1 ? "item" : "items"} · ${session.money(subtotal + tax)}`);
    replaceChildren(
      cartPanel,
      h("h2", { id: "cart-heading" }, "Current sale", cart.isEmpty() ? null : h("span", { class: "badge" }, String(cart.count()))),
      cart.isEmpty()
        ? h("p", { class: "muted cart-empty" }, "Tap a product to add it.")
        : h("ul", { class: "cart-lines", "aria-label": "Items in this sale" }, lines),
      h("dl", { class: "totals" },
        h("div", null, h("dt", null, "Subtotal"), h("dd", { id: "cart-subtotal" }, session.money(subtotal))),
        h("div", null, h("dt", null, "Tax"), h("dd", { id: "cart-tax" }, session.money(tax))),
        h("div", { class: "totals-grand" }, h("dt", null, "Total"), h("dd", { id: "cart-total", "data-total": subtotal + tax }, session.money(subtotal + tax))),
      ),
      paymentForm(subtotal + tax),
    );
  }

  function paymentForm(total) {
    const cash = h("input", { type: "radio", name: "payment-method", id: "pay-method-cash", value: "cash", checked: true });
    const card = h("input", { type: "radio", name: "payment-method", id: "pay-method-card", value: "card" });
    const cardSelect = h("select", { id: "card-token" }, TEST_CARDS.map((option) => h("option", { value: option.token }, option.label)));
    const cardField = h("div", { class: "field", hidden: true }, h("label", { for: "card-token" }, "Test card"), cardSelect);
    const payButton = h("button", { type: "submit", id: "pay-button", class: "button button-primary button-large", disabled: cart.isEmpty() }, `Charge ${session.money(total)}`);
    const showCard = () => {
      cardField.hidden = !card.checked;
    };
    cash.addEventListener("change", showCard);
    card.addEventListener("change", showCard);
    const form = h(
      "form",
      { class: "payment stack", "aria-label": "Payment" },
      h(
        "fieldset",
        { class: "segmented" },
        h("legend", null, "Payment"),
        h("label", { class: "segment", for: "pay-method-cash" }, cash, h("span", null, "Cash")),
        h("label", { class: "segment", for: "pay-method-card" }, card, h("span", null, "Card")),
      ),
      cardField,
      payButton,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (cart.isEmpty()) return;
      const payment = card.checked ? { method: "card", card_token: cardSelect.value } : { method: "cash" };
      const order = await attempt(
        () => session.api("/orders", { method: "POST", body: { items: cart.items(), payment }, headers: { "idempotency-key": newIdempotencyKey() } }),
        payButton,
      );
      if (!order) return;
      showSuccess(`Order ${order.order_number} paid: ${session.money(order.total_amount)}.`);
      state.lastReceipt = order;
      cart.clear();
      reloadProducts();
      todaysOrders.reload();
    });
    return form;
  }

  function drawReceipt(order) {
    const newSale = h("button", { type: "button", id: "new-sale", class: "button button-primary button-large", onclick: () => {
      state.lastReceipt = null;
      drawCart();
      search.focus();
    } }, "New sale");
    replaceChildren(
      cartPanel,
      h("h2", { id: "cart-heading" }, "Receipt"),
      receiptElement(order),
      h("div", { class: "row" }, newSale, h("button", { type: "button", class: "button", onclick: () => window.print() }, "Print")),
    );
    newSale.focus();
  }

  function cartLine(cart, line) {
    const { product, quantity } = line;
    const quantityInput = h("input", {
      type: "number",
      class: "quantity-input",
      min: "1",
      max: String(MAX_QUANTITY),
      inputmode: "numeric",
      value: String(quantity),
      "aria-label": `Quantity of ${product.name}`,
    });
    quantityInput.addEventListener("change", () => cart.setQuantity(product.id, Number(quantityInput.value)));
    return h(
      "li",
      { class: "cart-line", "data-product-id": product.id, "data-sku": product.sku },
      h("span", { class: "cart-line-name" }, product.name),
      h("span", { class: "cart-line-total number" }, session.money(product.price * quantity)),
      h(
        "span",
        { class: "cart-line-quantity" },
        h("button", { type: "button", class: "button button-icon", "aria-label": `One less ${product.name}`, onclick: () => cart.setQuantity(product.id, quantity - 1) }, "−"),
        quantityInput,
        h("button", { type: "button", class: "button button-icon", "aria-label": `One more ${product.name}`, onclick: () => cart.add(product) }, "+"),
      ),
      h("button", { type: "button", class: "button button-quiet cart-line-remove", "aria-label": `Remove ${product.name}`, onclick: () => cart.remove(product.id) }, "Remove"),
    );
  }

  async function reloadProducts() {
    const products = await attempt(loadAllProducts);
    if (!products) return;
    state.products = products;
    if (state.category !== null && !categoriesOf(products).includes(state.category)) state.category = null;
    drawCategories();
    drawGrid();
  }

  const todaysOrders = renderTodaysOrders(today, {
    onShowReceipt: (order) => {
      state.lastReceipt = order;
      drawCart();
    },
  });

  // The bar is for when the cart is out of sight; once any of it shows, the bar gets out of
  // the way (it would cover the pay button otherwise).
  const cartAside = container.querySelector(".terminal-cart");
  const cartWatcher = new IntersectionObserver((entries) => {
    state.cartInView = entries.some((entry) => entry.isIntersecting);
    cartBar.hidden = cart.isEmpty() || state.cartInView || Boolean(state.lastReceipt);
  }, { rootMargin: "0px 0px -96px 0px" });
  cartWatcher.observe(cartAside);

  /** A selector for the control that has the keyboard focus, to find it again after a redraw. */
  function focusedControl() {
    const active = document.activeElement;
    if (!active || !container.contains(active)) return null;
    if (active.classList.contains("product-tile")) return `.product-tile[data-product-id="${CSS.escape(active.dataset.productId)}"]`;
    if (!cartPanel.contains(active)) return null;
    const label = active.getAttribute("aria-label");
    return label ? `[aria-label="${CSS.escape(label)}"]` : "#cart-heading";
  }

  cart.onChange(() => {
    // Redrawing replaces the buttons: keep the keyboard focus on the control that was used,
    // or on the cart's heading when that control is gone (a removed line).
    const focused = focusedControl();
    drawCart();
    drawGrid();
    if (focused) {
      const found = container.querySelector(focused);
      const again = found && !found.disabled ? found : document.getElementById("cart-heading");
      if (again.id === "cart-heading") again.setAttribute("tabindex", "-1");
      again.focus({ preventScroll: true });
    }
  });
  drawCart();
  reloadProducts();
  todaysOrders.reload();
  return () => cartWatcher.disconnect();
}
