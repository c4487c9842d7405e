// Form building blocks shared by the pages.

import { h } from "../common/api.js";

/**
 * A labelled form field: the label names the input for screen readers and enlarges its
 * target; a hint is tied to the input with aria-describedby.
 */
export function field(label, input, hint) {
  const id = input.id;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("small", { class: "muted field-hint", id: `${id}-hint` }, hint) : null,
  );
}
