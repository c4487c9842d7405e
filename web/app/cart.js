// The cart of the terminal: products and quantities, nothing else. The totals shown before
// paying are a preview computed as API.md §6 does (tax rounded half up); the receipt shows the
// server's own figures.

/** Largest quantity the API accepts on one line. */
export const MAX_QUANTITY = 10000;

export class Cart {
  constructor() {
    /** @type {Map<string, {product: any, quantity: number}>} */
    this.lines = new Map();
    this.listeners = [];
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  changed() {
    for (const listener of this.listeners) listener(this);
  }

  add(product) {
    const line = this.lines.get(product.id);
    if (line) line.quantity = Math.min(line.quantity + 1, MAX_QUANTITY);
    else this.lines.set(product.id, { product, quantity: 1 });
    this.changed();
  }

  /** Sets a line's quantity; zero or less removes the line. */
  setQuantity(productId, quantity) {
    const line = this.lines.get(productId);
    if (!line) return;
    if (!Number.isFinite(quantity) || quantity <= 0) this.lines.delete(productId);
    else line.quantity = Math.min(Math.floor(quantity), MAX_QUANTITY);
    this.changed();
  }

  remove(productId) {
    this.lines.delete(productId);
    this.changed();
  }

  clear() {
    this.lines.clear();
    this.changed();
  }

  isEmpty() {
    return this.lines.size === 0;
  }

  /** Lines in the order they were added. */
  entries() {
    return [...this.lines.values()];
  }

  count() {
    return this.entries().reduce((sum, line) => sum + line.quantity, 0);
  }

  subtotal() {
    return this.entries().reduce((sum, line) => sum + line.product.price * line.quantity, 0);
  }

  /** The body of `POST /orders`'s `items`. */
  items() {
    return this.entries().map((line) => ({ product_id: line.product.id, quantity: line.quantity }));
  }
}

/** Tax of API.md §6: subtotal × bps / 10000, rounded half up (amounts are never negative). */
export function taxOf(subtotal, taxRateBps) {
  return Math.floor((subtotal * taxRateBps + 5000) / 10000);
}
