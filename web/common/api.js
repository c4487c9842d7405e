// Shared client for the tenantpos public API, used by /app/ and /console/.
//
// Why a module of its own: both pages must show API errors as their messages and
// must never insert API text as HTML. Keeping the fetch wrapper and the DOM builder
// here means every page gets both rules by construction.

/** An error answer of the API: `{"error":{"code","message"}}` plus the HTTP status. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the network failed)
   * @param {string} code `error.code` of API.md §3, or `network_error` / `bad_response`
   * @param {string} message human-readable message, shown to the person as is
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

let sessionExpiredHandler = null;

/**
 * Registers what happens when a tenant token stops working (expired, user deleted):
 * the app goes back to sign-in. Only one handler; a later call replaces it.
 * @param {(error: ApiError) => void} handler
 */
export function onSessionExpired(handler) {
  sessionExpiredHandler = handler;
}

/**
 * Calls the API with JSON in and out.
 * @param {string} path e.g. "/products?limit=100"
 * @param {{method?: string, body?: any, tenantId?: string, token?: string,
 *          adminToken?: string, headers?: Record<string,string>, raw?: boolean}} options
 *   `raw: true` returns the Response itself (for downloads such as an export).
 *   A string `body` with a `headers["content-type"]` is sent as is (for uploads).
 * @returns {Promise<any>} the parsed JSON answer, or null for 204
 * @throws {ApiError}
 */
export async function request(path, options = {}) {
  const { method = "GET", body, tenantId, token, adminToken, headers: extraHeaders = {}, raw = false } = options;
  const headers = { accept: "application/json", ...extraHeaders };
  if (tenantId) headers["x-tenant-id"] = tenantId;
  if (token) headers["authorization"] = `Bearer ${token}`;
  if (adminToken) headers["authorization"] = `Bearer ${adminToken}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === "string" && headers["content-type"]) {
      payload = body;
    } else {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch (failure) {
    throw new ApiError(0, "network_error", "The server could not be reached. Check the connection and try again.");
  }
  if (response.ok && raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch (failure) {
      json = null;
    }
  }
  if (!response.ok) {
    const envelope = json && json.error ? json.error : null;
    const error = new ApiError(
      response.status,
      envelope && typeof envelope.code === "string" ? envelope.code : "bad_response",
      envelope && typeof envelope.message === "string" ? envelope.message : `The server answered ${response.status}.`,
    );
    const tokenFailed = error.status === 401 && (error.code === "invalid_token" || error.code === "missing_token");
    if (tokenFailed && token && sessionExpiredHandler) sessionExpiredHandler(error);
    throw error;
  }
  return json;
}

const fractionDigitsCache = new Map();

function fractionDigits(currency) {
  if (!fractionDigitsCache.has(currency)) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch (failure) {
      digits = 2;
    }
    fractionDigitsCache.set(currency, digits);
  }
  return fractionDigitsCache.get(currency);
}

/**
 * Formats an integer amount of minor units (cents) in the currency's own way:
 * `formatMoney(1234, "USD")` → "$12.34", `formatMoney(1234, "JPY")` → "¥1,234".
 * @param {number} minor
 * @param {string} currency ISO 4217 code
 */
export function formatMoney(minor, currency = "USD") {
  const digits = fractionDigits(currency);
  const major = Number(minor) / 10 ** digits;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(major);
  } catch (failure) {
    return `${major.toFixed(digits)} ${currency}`;
  }
}

/** Converts a typed amount ("12.34") to minor units for the currency; NaN when it is not a number. */
export function parseMoney(text, currency = "USD") {
  const digits = fractionDigits(currency);
  const value = Number(String(text).trim().replace(",", "."));
  if (!Number.isFinite(value)) return NaN;
  return Math.round(value * 10 ** digits);
}

/**
 * Builds a DOM element. Children are nodes or strings; strings become text nodes,
 * so API data can never turn into markup. Attributes: `class`, `for`, `aria-*`,
 * `data-*` and the like are set as attributes; `on<event>` with a function adds a listener;
 * `true` sets a boolean attribute, `false`/null/undefined leaves it out.
 * @param {string} tag
 * @param {Record<string, any>|null} attributes
 * @param {...(Node|string|number|null|undefined|false|Array)} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  let deferredValue;
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "value" && "value" in element) {
      deferredValue = String(value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  appendChildren(element, children);
  // Set after the children so a <select> finds its <option>s.
  if (deferredValue !== undefined) element.value = deferredValue;
  return element;
}

function appendChildren(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(element, child);
    else if (child instanceof Node) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** Removes every child of `element`, then appends `children` (same rules as `h`). */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  appendChildren(element, children);
  return element;
}

/** Formats an RFC 3339 timestamp for people, in the browser's locale. */
export function formatDateTime(timestamp, timeZone) {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return String(timestamp);
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone }).format(date);
  } catch (failure) {
    return date.toLocaleString();
  }
}
