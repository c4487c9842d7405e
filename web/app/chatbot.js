// The chatbot beside the dashboard (API.md §7): plain questions about the tenant's own
// figures. Replies are shown as text in a log that screen readers announce.

import { h, replaceChildren } from "../common/api.js";
import * as session from "./session.js";
import { attempt } from "./notices.js";

const SUGGESTIONS = [
  "What is today's revenue?",
  "What are the top products?",
  "What is running low?",
  "How many orders today?",
  "How do people pay?",
];

export function renderChatbot(panel) {
  const log = h("ol", { class: "chat-log", id: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" },
    h("li", { class: "chat-message chat-bot" }, "Ask me about today's takings, orders, top sellers, low stock or payment methods."));
  const input = h("input", { id: "chat-input", autocomplete: "off", maxlength: "500", placeholder: "Ask a question" });
  const send = h("button", { type: "submit", id: "chat-send", class: "button button-primary" }, "Ask");
  const form = h("form", { class: "chat-form", "aria-label": "Ask the assistant" },
    h("label", { for: "chat-input", class: "visually-hidden" }, "Question"), input, send);

  async function ask(message) {
    if (!message) return;
    log.append(h("li", { class: "chat-message chat-person" }, message));
    input.value = "";
    const answer = await attempt(() => session.api("/chatbot/messages", { method: "POST", body: { message } }), send);
    if (answer) log.append(h("li", { class: "chat-message chat-bot", "data-intent": answer.intent }, answer.reply));
    log.lastElementChild.scrollIntoView({ block: "nearest" });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(input.value.trim());
  });

  replaceChildren(
    panel,
    h("h2", { id: "chat-heading" }, "Assistant"),
    log,
    h("div", { class: "chat-suggestions", role: "group", "aria-label": "Suggested questions" },
      SUGGESTIONS.map((text) => h("button", { type: "button", class: "chip", onclick: () => ask(text) }, text))),
    form,
  );
}
