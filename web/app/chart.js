// Revenue by day as an SVG bar chart, drawn here rather than by a library: a few dozen lines,
// nothing to vendor, and every label goes in as text. The same figures are offered as a table
// for screen readers and for anyone who prefers numbers.

import { h } from "../common/api.js";
import { shortDayLabel, longDayLabel } from "./dates.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 220;
const MARGIN = { top: 12, right: 8, bottom: 28, left: 64 };
const GRID_LINES = 4;

function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** The smallest "nice" number (1, 2, 5 × 10ⁿ) at or above `value`, so grid lines fall on round amounts. */
export function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/**
 * Draws `days` (`[{date, orders, revenue}]`, oldest first) into `holder`, `width` pixels wide.
 * `money` formats minor units in the tenant's currency.
 */
export function drawRevenueChart(holder, days, money, width) {
  const innerWidth = Math.max(width - MARGIN.left - MARGIN.right, 60);
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const top = niceCeiling(Math.max(...days.map((day) => day.revenue), 100));
  const total = days.reduce((sum, day) => sum + day.revenue, 0);
  const best = days.reduce((winner, day) => (day.revenue > winner.revenue ? day : winner), days[0]);
  const label = days.length
    ? `Revenue by day, ${longDayLabel(days[0].date)} to ${longDayLabel(days[days.length - 1].date)}: ${money(total)} in all; best day ${longDayLabel(best.date)} with ${money(best.revenue)}.`
    : "Revenue by day: no days.";
  const chart = svg("svg", {
    class: "chart",
    id: "revenue-chart",
    width,
    height: HEIGHT,
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img",
    "aria-label": label,
    "data-total": total,
  });
  for (let line = 0; line <= GRID_LINES; line += 1) {
    const value = (top * line) / GRID_LINES;
    const y = MARGIN.top + innerHeight - (innerHeight * line) / GRID_LINES;
    chart.append(
      svg("line", { class: "chart-grid", x1: MARGIN.left, x2: MARGIN.left + innerWidth, y1: y, y2: y }),
      svg("text", { class: "chart-axis", x: MARGIN.left - 6, y: y + 4, "text-anchor": "end" }, money(Math.round(value))),
    );
  }
  const slot = innerWidth / Math.max(days.length, 1);
  const barWidth = Math.max(Math.min(slot * 0.7, 40), 2);
  // Label every day when there is room, else every few days; the last (today) always.
  const labelEvery = Math.ceil(days.length / Math.max(Math.floor(innerWidth / 44), 1));
  days.forEach((day, index) => {
    const barHeight = top > 0 ? (innerHeight * day.revenue) / top : 0;
    const x = MARGIN.left + slot * index + (slot - barWidth) / 2;
    const bar = svg("rect", {
      class: index === days.length - 1 ? "chart-bar chart-bar-today" : "chart-bar",
      x,
      y: MARGIN.top + innerHeight - barHeight,
      width: barWidth,
      height: Math.max(barHeight, day.revenue > 0 ? 1 : 0),
      rx: 3,
      "data-date": day.date,
      "data-revenue": day.revenue,
      "data-orders": day.orders,
    });
    bar.append(svg("title", {}, `${longDayLabel(day.date)}: ${money(day.revenue)}, ${day.orders} ${day.orders === 1 ? "order" : "orders"}`));
    chart.append(bar);
    const last = index === days.length - 1;
    if (last || (index % labelEvery === 0 && days.length - 1 - index >= labelEvery)) {
      chart.append(svg("text", { class: "chart-axis", x: x + barWidth / 2, y: HEIGHT - 8, "text-anchor": "middle" }, last ? "Today" : shortDayLabel(day.date)));
    }
  });
  chart.append(svg("line", { class: "chart-baseline", x1: MARGIN.left, x2: MARGIN.left + innerWidth, y1: MARGIN.top + innerHeight, y2: MARGIN.top + innerHeight }));
  holder.replaceChildren(chart);
  return chart;
}

/** The chart's figures as a table, inside a disclosure. */
export function revenueTable(days, money) {
  return h(
    "details",
    { class: "chart-table" },
    h("summary", null, "Show as a table"),
    h("div", { class: "table-scroll" },
      h("table", { class: "table" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Day"), h("th", { scope: "col", class: "number" }, "Orders"), h("th", { scope: "col", class: "number" }, "Revenue"))),
        h("tbody", null, days.slice().reverse().map((day) =>
          h("tr", null, h("th", { scope: "row" }, longDayLabel(day.date)), h("td", { class: "number" }, String(day.orders)), h("td", { class: "number" }, money(day.revenue))))),
      ),
    ),
  );
}
