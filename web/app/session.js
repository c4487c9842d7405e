// The signed-in session: tenant id, token, and who the token belongs to. Kept in
// sessionStorage so a reload keeps the person signed in while closing the tab signs them out,
// and the token never outlives the browser session.

import { ApiError, request, formatMoney } from "../common/api.js";

const STORAGE_KEY = "tenantpos.app.session";

/** @type {{tenantId: string, token: string, expiresAt: number, user: any, settings: any} | null} */
let current = null;
let expiryTimer = null;
let onExpired = () => {};

/** What to do when the token's `exp` passes while the page is open. */
export function whenExpired(handler) {
  onExpired = handler;
}

export function session() {
  return current;
}

export function role() {
  return current && current.user ? current.user.role : null;
}

/** Owners and managers see orders, products and the dashboard. */
export function isManagerOrOwner() {
  return role() === "owner" || role() === "manager";
}

export function isOwner() {
  return role() === "owner";
}

/** A tenant request with this session's tenant id and token. */
export function api(path, options = {}) {
  if (!current) return Promise.reject(new ApiError(401, "signed_out", "You are signed out."));
  return request(path, { ...options, tenantId: current.tenantId, token: current.token });
}

/** The tenant's currency formatting, from its settings. */
export function money(minor) {
  const currency = current && current.settings ? current.settings.currency : "USD";
  return formatMoney(minor, currency);
}

export function currency() {
  return current && current.settings ? current.settings.currency : "USD";
}

export function timezone() {
  return current && current.settings ? current.settings.timezone : "UTC";
}

/** Signs in: login, then who am I and the tenant's settings (currency, tax, footer). */
export async function signIn(tenantId, username, password) {
  const login = await request("/auth/login", { method: "POST", tenantId, body: { username, password } });
  const token = login.access_token;
  const expiresAt = Date.now() + Number(login.expires_in) * 1000;
  const [user, settings] = await Promise.all([
    request("/auth/me", { tenantId, token }),
    request("/settings", { tenantId, token }),
  ]);
  current = { tenantId, token, expiresAt, user, settings };
  save();
  scheduleExpiry();
  return current;
}

/** Re-reads the settings after an owner changed them. */
export async function refreshSettings() {
  current.settings = await api("/settings");
  save();
  return current.settings;
}

/** Restores a session kept in this tab, if its token has not expired. */
export function restore() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (kept && kept.token && kept.expiresAt > Date.now()) {
      current = kept;
      scheduleExpiry();
      return current;
    }
  } catch (failure) {
    // A damaged entry is the same as none.
  }
  sessionStorage.removeItem(STORAGE_KEY);
  return null;
}

export function signOut() {
  current = null;
  clearTimeout(expiryTimer);
  sessionStorage.removeItem(STORAGE_KEY);
}

function save() {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(current));
}

function scheduleExpiry() {
  clearTimeout(expiryTimer);
  // setTimeout's delay is a 32-bit signed number of milliseconds.
  const delay = Math.min(current.expiresAt - Date.now(), 2 ** 31 - 1);
  expiryTimer = setTimeout(() => onExpired(), Math.max(delay, 0));
}
