// The vowel dashboard: fetches /dashboard/range/<lower>/<upper> and draws two SVG bar charts.
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const LETTERS = "abcdefghijklmnopqrstuvwxyz".split("");

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function barChart(svg, values, cls, format) {
  svg.replaceChildren();
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const top = 16, bottom = 20, left = 10, step = (width - left) / LETTERS.length;
  const max = Math.max(...values, 0) || 1;
  LETTERS.forEach((letter, i) => {
    const h = (values[i] / max) * (height - top - bottom);
    const x = left + i * step;
    svg.appendChild(el("rect", { class: cls, x: x + 3, y: height - bottom - h,
                                 width: step - 6, height: h }));
    svg.appendChild(el("text", { x: x + step / 2, y: height - 5, "text-anchor": "middle" }, letter));
    if (values[i]) {
      svg.appendChild(el("text", { x: x + step / 2, y: height - bottom - h - 3,
                                   "text-anchor": "middle" }, format(values[i])));
    }
  });
}

async function show(lower, upper) {
  const status = document.getElementById("status");
  status.textContent = "";
  const response = await fetch(`/dashboard/range/${lower}/${upper}`);
  const body = await response.json();
  if (!response.ok) {
    status.textContent = body.error || `HTTP ${response.status}`;
    return;
  }
  const bySymbol = Object.fromEntries(body.map((row) => [row.symbol, row]));
  const counts = LETTERS.map((s) => (bySymbol[s] ? bySymbol[s].count : 0));
  const rates = LETTERS.map((s) => (bySymbol[s] ? bySymbol[s].followups / bySymbol[s].count : 0));
  barChart(document.getElementById("counts"), counts, "bar-count", (v) => String(v));
  barChart(document.getElementById("rates"), rates, "bar-rate", (v) => v.toFixed(2));
  const rows = body.map((r) => `<tr><td>${r.symbol}</td><td>${r.count}</td><td>${r.followups}</td>` +
    `<td>${(r.followups / r.count).toFixed(3)}</td><td>${r.earliest}</td><td>${r.latest}</td></tr>`);
  document.querySelector("#table tbody").innerHTML = rows.join("");
  document.body.dataset.loaded = String(body.length);
}

const today = new Date().toISOString().slice(0, 10);
const weekAgo = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
const params = new URLSearchParams(location.search);
document.getElementById("lower").value = params.get("lower") || weekAgo;
document.getElementById("upper").value = params.get("upper") || today;
document.getElementById("range").addEventListener("submit", (event) => {
  event.preventDefault();
  show(document.getElementById("lower").value, document.getElementById("upper").value);
});
show(document.getElementById("lower").value, document.getElementById("upper").value);
