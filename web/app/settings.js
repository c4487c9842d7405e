// Settings, for owners (API.md §7): the business's name and type, currency, tax rate,
// timezone, order number prefix and receipt footer.

import { h, replaceChildren } from "../common/api.js";
import * as session from "./session.js";
import { attempt, showSuccess, showError } from "./notices.js";
import { field } from "./forms.js";

const BUSINESS_TYPES = [
  { value: "restaurant", label: "Restaurant" },
  { value: "fast_food", label: "Fast food" },
  { value: "retail", label: "Retail" },
];

export function renderSettings(container) {
  const holder = h("section", { class: "card settings", "aria-label": "Business settings" }, h("p", { class: "muted" }, "Loading…"));
  container.append(h("div", { class: "page-heading" }, h("h1", null, "Settings")), holder);

  function draw(settings) {
    const name = h("input", { id: "settings-name", required: true, maxlength: "200", value: settings.name });
    const businessType = h("select", { id: "settings-business-type", value: settings.business_type },
      BUSINESS_TYPES.map((type) => h("option", { value: type.value }, type.label)));
    const currency = h("input", { id: "settings-currency", required: true, pattern: "[A-Z]{3}", maxlength: "3", value: settings.currency, autocapitalize: "characters" });
    const taxPercent = h("input", { id: "settings-tax", required: true, inputmode: "decimal", value: String(settings.tax_rate_bps / 100) });
    const timezone = h("input", { id: "settings-timezone", required: true, value: settings.timezone, list: "settings-timezones", spellcheck: "false" });
    const prefix = h("input", { id: "settings-prefix", value: settings.order_number_prefix, maxlength: "20" });
    const footer = h("textarea", { id: "settings-footer", rows: "3", maxlength: "500" });
    footer.value = settings.receipt_footer || "";
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    const save = h("button", { type: "submit", id: "settings-save", class: "button button-primary" }, "Save settings");
    const form = h("form", { class: "stack", id: "settings-form" },
      field("Business name", name),
      field("Business type", businessType),
      field("Currency", currency, "ISO 4217 code, for example USD, EUR or JPY."),
      field("Tax rate (%)", taxPercent, "Added to every sale; 8.25 means 8.25%."),
      field("Timezone", timezone, "Decides when the day starts for today's orders and the dashboard."),
      field("Order number prefix", prefix),
      field("Receipt footer", footer, "Printed at the bottom of every receipt."),
      h("datalist", { id: "settings-timezones" }, zones.map((zone) => h("option", { value: zone }))),
      save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const bps = Math.round(Number(taxPercent.value.replace(",", ".")) * 100);
      if (!Number.isFinite(bps) || bps < 0 || bps > 10000) {
        showError(new Error("The tax rate is a percentage from 0 to 100."));
        return;
      }
      const saved = await attempt(() => session.api("/settings", {
        method: "PATCH",
        body: {
          name: name.value.trim(),
          business_type: businessType.value,
          currency: currency.value.trim().toUpperCase(),
          tax_rate_bps: bps,
          timezone: timezone.value.trim(),
          order_number_prefix: prefix.value,
          receipt_footer: footer.value,
        },
      }), save);
      if (!saved) return;
      await attempt(() => session.refreshSettings());
      replaceChildren(document.getElementById("business-name"), saved.name);
      showSuccess("Settings saved.");
      draw(saved);
    });
    replaceChildren(holder, form);
  }

  attempt(() => session.api("/settings")).then((settings) => {
    if (settings) draw(settings);
  });
}
