// Entry point of /app/: the shell (header, navigation by role) and a small hash router.
// Every page is a module with `render(container)`; what it shows comes from the public API
// only, through session.js, and is always inserted as text.

import { h, replaceChildren, onSessionExpired } from "../common/api.js";
import * as session from "./session.js";
import { clearAll, showError } from "./notices.js";
import { renderSignIn } from "./signin.js";
import { renderTerminal } from "./terminal.js";
import { renderOrders } from "./orders.js";
import { renderProducts } from "./products.js";
import { renderDashboard } from "./dashboard.js";
import { renderUsers } from "./users.js";
import { renderSettings } from "./settings.js";

/** The pages, in navigation order, and who may open them. */
const PAGES = [
  { id: "terminal", label: "Terminal", render: renderTerminal, allowed: () => true },
  { id: "orders", label: "Orders", render: renderOrders, allowed: session.isManagerOrOwner },
  { id: "products", label: "Products", render: renderProducts, allowed: session.isManagerOrOwner },
  { id: "dashboard", label: "Dashboard", render: renderDashboard, allowed: session.isManagerOrOwner },
  { id: "users", label: "Users", render: renderUsers, allowed: session.isOwner },
  { id: "settings", label: "Settings", render: renderSettings, allowed: session.isOwner },
];

let leaveCurrentPage = null;

function main() {
  return document.getElementById("main");
}

/** Back to sign-in, keeping the tenant id typed in for the next person. */
function endSession(message) {
  const tenantId = session.session() ? session.session().tenantId : "";
  session.signOut();
  if (location.hash) history.replaceState(null, "", location.pathname);
  showShell();
  showSignIn(tenantId);
  if (message) showError(new Error(message));
}

function showSignIn(tenantId) {
  leave();
  renderSignIn(main(), {
    tenantId,
    onSignedIn: () => {
      clearAll();
      showShell();
      location.hash = "#/terminal";
      route();
    },
  });
}

function showShell() {
  const header = document.getElementById("app-header");
  const current = session.session();
  if (!current) {
    header.hidden = true;
    return;
  }
  header.hidden = false;
  const settings = current.settings || {};
  replaceChildren(document.getElementById("business-name"), settings.name || current.tenantId);
  replaceChildren(
    document.getElementById("session-user"),
    h("span", { class: "app-username" }, current.user.username),
    " ",
    h("span", { class: "badge" }, current.user.role),
  );
  const links = PAGES.filter((page) => page.allowed()).map((page) =>
    h("a", { href: `#/${page.id}`, class: "app-nav-link", "data-page": page.id }, page.label),
  );
  replaceChildren(document.getElementById("app-nav"), links);
}

function leave() {
  if (leaveCurrentPage) leaveCurrentPage();
  leaveCurrentPage = null;
}

function route() {
  if (!session.session()) {
    showSignIn("");
    return;
  }
  const wanted = location.hash.replace(/^#\//, "") || "terminal";
  const page = PAGES.find((candidate) => candidate.id === wanted && candidate.allowed()) || PAGES[0];
  for (const link of document.querySelectorAll(".app-nav-link")) {
    if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  leave();
  clearAll();
  const container = main();
  replaceChildren(container);
  container.dataset.page = page.id;
  const cleanup = page.render(container);
  leaveCurrentPage = typeof cleanup === "function" ? cleanup : null;
  const heading = container.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

function start() {
  const expired = () => endSession("Your session has ended. Please sign in again.");
  onSessionExpired(expired);
  session.whenExpired(expired);
  document.getElementById("sign-out").addEventListener("click", () => endSession(null));
  window.addEventListener("hashchange", route);
  session.restore();
  showShell();
  route();
}

start();
