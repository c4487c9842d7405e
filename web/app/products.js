// Products, for owners and managers: create, edit, archive, stock moves, low stock
// highlighted (by a word as well as a colour, for those who cannot tell colours apart).

import { h, replaceChildren, parseMoney } from "../common/api.js";
import * as session from "./session.js";
import { attempt, showSuccess, showError } from "./notices.js";
import { loadAllProducts, categoryLabel, isLowStock } from "./catalog.js";
import { field } from "./forms.js";

export function renderProducts(container) {
  const state = { products: [], editing: null };
  const currency = session.currency();
  const tableBody = h("tbody");
  const formHolder = h("section", { class: "card", "aria-labelledby": "product-form-heading" });
  const filter = h("input", { id: "products-filter", type: "search", placeholder: "Filter by name, SKU or category", autocomplete: "off" });
  filter.addEventListener("input", draw);

  container.append(
    h("div", { class: "page-heading" }, h("h1", null, "Products")),
    h("div", { class: "split split-form" },
      h("section", { class: "card", "aria-label": "Product list" },
        h("div", { class: "field" }, h("label", { for: "products-filter", class: "visually-hidden" }, "Filter products"), filter),
        h("div", { class: "table-scroll" },
          h("table", { class: "table table-cards", id: "products-table" },
            h("thead", null, h("tr", null,
              h("th", { scope: "col" }, "Name"),
              h("th", { scope: "col" }, "SKU"),
              h("th", { scope: "col" }, "Category"),
              h("th", { scope: "col", class: "number" }, "Price"),
              h("th", { scope: "col", class: "number" }, "Stock"),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
            )),
            tableBody,
          ),
        ),
      ),
      formHolder,
    ),
  );

  function draw() {
    const wanted = filter.value.trim().toLowerCase();
    const shown = state.products.filter((product) =>
      !wanted || [product.name, product.sku, product.category || ""].some((text) => text.toLowerCase().includes(wanted)),
    );
    if (shown.length === 0) {
      replaceChildren(tableBody, h("tr", null, h("td", { colspan: "6", class: "muted" }, state.products.length ? "No product matches." : "No products yet: add the first one.")));
      return;
    }
    replaceChildren(tableBody, shown.map(productRow));
  }

  function productRow(product) {
    const low = isLowStock(product);
    const actions = h("td", { class: "actions" });
    const showActions = () =>
      replaceChildren(
        actions,
        h("button", { type: "button", class: "button button-quiet", "data-action": "edit", "aria-label": `Edit ${product.name}`, onclick: () => edit(product) }, "Edit"),
        h("button", { type: "button", class: "button button-quiet", "data-action": "stock", "aria-label": `Move stock of ${product.name}`, onclick: showStockForm }, "Stock"),
        h("button", { type: "button", class: "button button-quiet", "data-action": "archive", "aria-label": `Archive ${product.name}`, onclick: confirmArchive }, "Archive"),
      );
    function confirmArchive() {
      const confirm = h("button", { type: "button", class: "button button-danger", "data-action": "confirm-archive", onclick: () => archive(product, confirm) }, `Archive ${product.name}`);
      replaceChildren(actions, confirm, h("button", { type: "button", class: "button button-quiet", onclick: showActions }, "Cancel"));
      confirm.focus();
    }
    function showStockForm() {
      const delta = h("input", { type: "number", step: "1", required: true, class: "quantity-input", "aria-label": `Stock change for ${product.name} (negative to remove)`, placeholder: "+/−" });
      const reason = h("select", { "aria-label": "Reason" },
        ["delivery", "count", "waste", "return"].map((value) => h("option", { value }, value.charAt(0).toUpperCase() + value.slice(1))));
      const save = h("button", { type: "submit", class: "button button-primary" }, "Apply");
      const form = h("form", { class: "inline-form", "aria-label": `Stock move for ${product.name}` }, delta, reason, save,
        h("button", { type: "button", class: "button button-quiet", onclick: showActions }, "Cancel"));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const change = Number(delta.value);
        if (!Number.isInteger(change) || change === 0) {
          showError(new Error("Enter a whole number other than zero; negative to take stock out."));
          return;
        }
        const updated = await attempt(
          () => session.api(`/products/${encodeURIComponent(product.id)}/stock`, { method: "POST", body: { delta: change, reason: reason.value } }),
          save,
        );
        if (updated) {
          replaceProduct(updated);
          showSuccess(`${updated.name}: stock now ${updated.stock}.`);
        }
      });
      replaceChildren(actions, form);
      delta.focus();
    }
    showActions();
    return h(
      "tr",
      { "data-product-id": product.id, "data-sku": product.sku, class: low ? "low-stock" : null },
      h("th", { scope: "row" }, product.name),
      h("td", { "data-label": "SKU" }, product.sku),
      h("td", { "data-label": "Category" }, categoryLabel(product.category)),
      h("td", { class: "number", "data-label": "Price" }, session.money(product.price)),
      h("td", { class: "number", "data-label": "Stock" }, String(product.stock), low ? h("span", { class: "badge badge-warning" }, "Low") : null),
      actions,
    );
  }

  function replaceProduct(updated) {
    state.products = state.products.map((candidate) => (candidate.id === updated.id ? updated : candidate));
    draw();
  }

  async function archive(product, button) {
    const done = await attempt(async () => {
      await session.api(`/products/${encodeURIComponent(product.id)}`, { method: "DELETE" });
      return true;
    }, button);
    if (!done) return;
    state.products = state.products.filter((candidate) => candidate.id !== product.id);
    if (state.editing && state.editing.id === product.id) edit(null);
    showSuccess(`${product.name} archived.`);
    draw();
  }

  function edit(product) {
    state.editing = product;
    drawForm();
    formHolder.querySelector("input").focus();
  }

  function drawForm() {
    const product = state.editing;
    const sku = h("input", { id: "product-sku", required: true, maxlength: "64", value: product ? product.sku : "", disabled: Boolean(product) });
    const name = h("input", { id: "product-name", required: true, maxlength: "200", value: product ? product.name : "" });
    const category = h("input", { id: "product-category", maxlength: "100", value: product && product.category ? product.category : "", list: "product-categories" });
    const price = h("input", { id: "product-price", required: true, inputmode: "decimal", value: product ? minorToText(product.price) : "" });
    const stock = h("input", { id: "product-stock", type: "number", min: "0", step: "1", value: "0" });
    const threshold = h("input", { id: "product-threshold", type: "number", min: "0", step: "1", value: product ? String(product.low_stock_threshold) : "5" });
    const save = h("button", { type: "submit", id: "product-save", class: "button button-primary" }, product ? "Save changes" : "Add product");
    const categories = h("datalist", { id: "product-categories" },
      [...new Set(state.products.map((candidate) => candidate.category).filter(Boolean))].map((value) => h("option", { value })));
    const form = h("form", { class: "stack", id: "product-form" },
      field("SKU", sku, product ? "The SKU of a product does not change." : null),
      field("Name", name),
      field("Category", category),
      field(`Price (${currency})`, price),
      product ? null : field("Opening stock", stock),
      field("Low stock at or below", threshold),
      h("div", { class: "row" }, save,
        product ? h("button", { type: "button", class: "button button-quiet", onclick: () => edit(null) }, "Cancel") : null),
      categories,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const minor = parseMoney(price.value, currency);
      if (!Number.isFinite(minor) || minor < 0) {
        showError(new Error("Enter the price as a number, for example 12.50."));
        return;
      }
      const body = {
        name: name.value.trim(),
        category: category.value.trim() || null,
        price: minor,
        low_stock_threshold: Number(threshold.value),
      };
      if (!product) {
        body.sku = sku.value.trim();
        body.stock = Number(stock.value) || 0;
      }
      const saved = await attempt(
        () => product
          ? session.api(`/products/${encodeURIComponent(product.id)}`, { method: "PATCH", body })
          : session.api("/products", { method: "POST", body }),
        save,
      );
      if (!saved) return;
      if (product) replaceProduct(saved);
      else {
        state.products = [...state.products, saved].sort(byName);
        draw();
      }
      showSuccess(product ? `${saved.name} saved.` : `${saved.name} added.`);
      state.editing = null;
      drawForm();
    });
    replaceChildren(formHolder, h("h2", { id: "product-form-heading" }, product ? `Edit ${product.name}` : "New product"), form);
  }

  function minorToText(minor) {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    return (minor / 10 ** digits).toFixed(digits);
  }
  drawForm();
  attempt(loadAllProducts).then((products) => {
    if (!products) return;
    state.products = products;
    draw();
  });
}

function byName(a, b) {
  return a.name.localeCompare(b.name, undefined, { sensitivity: "base" }) || a.id.localeCompare(b.id);
}
