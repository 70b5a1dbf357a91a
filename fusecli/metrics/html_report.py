"""A self-contained HTML report of a comparison: the scenes side by side with their scores.

One file, no network: thumbnails are embedded (JPEG data URIs) and the page's script and style
are inline. It holds the mean scores per method (best per column marked, sortable), a bar chart
per metric, a before/after slider between any two methods on any scene, and a gallery of every
scene's sources and outputs with their scores. Thumbnails are created only when their card
scrolls into view, so a report of a few hundred scenes stays light in the browser.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np

from fusecli import __version__
from fusecli.imaging import as_float, check_not_input, check_output_free, read_image, write_bytes_atomic
from fusecli.metrics.report import best_index
from fusecli.metrics.score import ItemResult, ScoreItem, summarize
from fusecli.metrics.table import METRICS

THUMBNAIL = 320  # long side of the embedded pictures, pixels


def thumbnail(path: Path, size: int = THUMBNAIL) -> str | None:
    """A JPEG data URI of the image at ``path``, ``size`` px on its long side (None: unreadable)."""
    try:
        image, _ = read_image(path)
    except Exception:  # a report shows what it can: a missing picture, not a failed report
        return None
    image = as_float(image)
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    pixels = np.floor(np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii") if ok else None


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def report_data(methods: Mapping[str, Sequence[ItemResult]], items: Mapping[str, Sequence[ScoreItem]], columns: Sequence[str], preset: str) -> dict:
    """Everything the page shows, as JSON-ready data (thumbnails included)."""
    names = list(methods)
    means = {m: summarize(list(results))[0] for m, results in methods.items()}
    shown = [c for c in columns if any(c in mean for mean in means.values())]
    directions = {}
    for column in shown:
        base = column.split("@")[0]
        directions[column] = "higher" if base not in METRICS or METRICS.get(base).higher_better else "lower"
    best = {c: best_index([means[m].get(c, math.nan) for m in names], c) for c in shown}
    first = names[0]
    fused = {m: {i.name: i.fused for i in items[m]} for m in names}
    scored = {m: {r.name: r for r in methods[m] if r.error is None} for m in names}
    scenes = []
    for item in items[first]:
        outputs, scores = {}, {}
        for method in names:
            path, result = fused[method].get(item.name), scored[method].get(item.name)
            outputs[method] = thumbnail(path) if path is not None else None
            scores[method] = {c: _number(result.metrics.get(c)) for c in shown} if result else None
        scenes.append({"name": item.name, "sources": [thumbnail(p) for p in item.sources], "outputs": outputs, "scores": scores})
    return {
        "version": __version__,
        "preset": preset,
        "methods": names,
        "columns": shown,
        "directions": directions,
        "means": {m: {c: _number(means[m].get(c)) for c in shown} for m in names},
        "best": {c: (names[i] if i is not None else None) for c, i in best.items()},
        "counts": {m: sum(r.error is None for r in methods[m]) for m in names},
        "scenes": scenes,
    }


def write_html_report(
    path: Path, methods: Mapping[str, Sequence[ItemResult]], items: Mapping[str, Sequence[ScoreItem]], columns: Sequence[str],
    preset: str, overwrite: bool = False, inputs: Sequence[Path] = (),
) -> Path:
    """Write the report of ``methods`` (name -> per-scene results, their ``items``) to ``path``,
    atomically; refuses an input or (unless ``overwrite``) an existing file."""
    path = Path(path)
    check_not_input(path, inputs)
    check_output_free(path, overwrite)
    data = report_data(methods, items, columns, preset)
    page = _PAGE.replace("__TITLE__", html.escape(f"fusecli comparison: {', '.join(data['methods'])}"))
    page = page.replace("__DATA__", json.dumps(data, allow_nan=False).replace("</", "<\\/"))
    write_bytes_atomic(path, page.encode("utf-8"))
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 16px; color: #222; }
  h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
  table { border-collapse: collapse; }
  th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  th.sortable { cursor: pointer; user-select: none; } th.sortable:hover { background: #eef; }
  th .arrow { color: #888; font-size: 11px; }
  td.best { background: #d7f5d7; font-weight: 600; }
  .charts { display: flex; flex-wrap: wrap; gap: 12px; }
  .chart { border: 1px solid #eee; padding: 6px; }
  .legend { display: flex; gap: 16px; margin: 6px 0 10px; }
  .legend span::before { content: ""; display: inline-block; width: 12px; height: 12px; margin-right: 5px; background: var(--c); vertical-align: -1px; }
  .viewer { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
  .controls { display: flex; gap: 14px; align-items: center; margin-bottom: 6px; }
  #slider { display: block; width: 640px; margin: 4px 0 8px; }
  .slider-box { position: relative; display: block; width: 640px; line-height: 0; }
  .slider-box img { display: block; width: 640px; }
  .slider-box .top { position: absolute; left: 0; top: 0; overflow: hidden; height: 100%; }
  .slider-box .top img { max-width: none; }
  .slider-box .bar { position: absolute; top: 0; bottom: 0; width: 2px; background: #fff; box-shadow: 0 0 3px #000; }
  .gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
  .card { border: 1px solid #ddd; padding: 8px; min-height: 160px; cursor: pointer; }
  .card .row { display: flex; gap: 6px; flex-wrap: wrap; }
  .card figure { margin: 0; font-size: 12px; text-align: center; }
  .card img { height: 120px; display: block; }
  .card table { font-size: 12px; margin-top: 6px; }
  .muted { color: #777; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<p class="muted" id="summary"></p>
<h2>Mean scores</h2>
<table id="scores"><thead></thead><tbody></tbody></table>
<h2>Per metric</h2>
<div class="legend" id="legend"></div>
<div class="charts" id="charts"></div>
<h2>Before / after</h2>
<div class="viewer">
  <div>
    <div class="controls">
      <label>scene <select id="scene"></select></label>
      <label>left <select id="left"></select></label>
      <label>right <select id="right"></select></label>
    </div>
    <input type="range" id="slider" min="0" max="100" value="50" aria-label="split between the left and the right method">
    <div class="slider-box" id="box">
      <img id="under" alt="right method">
      <div class="top" id="top"><img id="over" alt="left method"></div>
      <div class="bar" id="bar"></div>
    </div>
  </div>
  <div id="viewer-scores"></div>
</div>
<h2>Scenes</h2>
<div class="gallery" id="gallery"></div>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const fmt = v => (v === null || v === undefined) ? "\\u2014" : (Math.abs(v) >= 1000 ? v.toFixed(1) : v.toFixed(4));
const el = (tag, attrs = {}, text) => { const e = document.createElement(tag); Object.assign(e, attrs); if (text !== undefined) e.textContent = text; return e; };

document.getElementById("summary").textContent =
  `${DATA.scenes.length} scenes, ${DATA.methods.length} methods; ${DATA.preset} conventions; fusecli ${DATA.version}. ` +
  "Best value per column in green; click a column to sort.";

// the mean-scores table, sortable by any column
let sortState = { column: null, descending: true };
function drawTable() {
  const head = document.querySelector("#scores thead"), body = document.querySelector("#scores tbody");
  head.replaceChildren(); body.replaceChildren();
  const row = el("tr");
  ["method", ...DATA.columns].forEach(c => {
    const th = el("th", { className: "sortable" }, c === "method" ? c : `${c} `);
    if (c !== "method") th.appendChild(el("span", { className: "arrow" }, DATA.directions[c] === "higher" ? "\\u2191" : "\\u2193"));
    th.dataset.column = c;
    th.addEventListener("click", () => { sortState = { column: c, descending: sortState.column === c ? !sortState.descending : true }; drawTable(); });
    row.appendChild(th);
  });
  head.appendChild(row);
  let methods = [...DATA.methods];
  if (sortState.column) {
    const c = sortState.column, sign = sortState.descending ? -1 : 1;
    methods.sort((a, b) => c === "method" ? sign * a.localeCompare(b) : sign * ((DATA.means[a][c] ?? -Infinity) - (DATA.means[b][c] ?? -Infinity)));
  }
  methods.forEach(m => {
    const tr = el("tr");
    tr.appendChild(el("td", {}, `${m} (${DATA.counts[m]})`));
    DATA.columns.forEach(c => tr.appendChild(el("td", { className: DATA.best[c] === m ? "best" : "" }, fmt(DATA.means[m][c]))));
    body.appendChild(tr);
  });
}
drawTable();

// one bar chart per metric
const PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"];
DATA.methods.forEach((m, k) => { const s = el("span", {}, m); s.style.setProperty("--c", PALETTE[k % PALETTE.length]); document.getElementById("legend").appendChild(s); });
DATA.columns.forEach(c => {
  const values = DATA.methods.map(m => DATA.means[m][c]);
  const finite = values.filter(v => v !== null);
  if (!finite.length) return;
  const lo = Math.min(0, ...finite), hi = Math.max(0, ...finite), span = (hi - lo) || 1;
  const w = Math.max(200, 40 + 46 * values.length), h = 160, top = 30, bottom = 150;
  const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", w); svg.setAttribute("height", h);
  const text = (x, y, s, size = 11) => { const t = document.createElementNS(ns, "text"); t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", size); t.textContent = s; svg.appendChild(t); };
  text(6, 14, `${c} (${DATA.directions[c]} is better)`, 12);
  const zero = bottom - (0 - lo) / span * (bottom - top);
  values.forEach((v, k) => {
    const x = 20 + k * 46;
    if (v !== null) {
      const y = bottom - (v - lo) / span * (bottom - top), r = document.createElementNS(ns, "rect");
      r.setAttribute("x", x); r.setAttribute("width", 34); r.setAttribute("y", Math.min(y, zero)); r.setAttribute("height", Math.max(1, Math.abs(zero - y)));
      r.setAttribute("fill", PALETTE[k % PALETTE.length]);
      if (DATA.best[c] === DATA.methods[k]) { r.setAttribute("stroke", "#000"); r.setAttribute("stroke-width", 2); }
      svg.appendChild(r); text(x, Math.min(y, zero) - 3, Number(v.toPrecision(4)).toString(), 9);
    }
  });
  const box = el("div", { className: "chart" }); box.appendChild(svg); document.getElementById("charts").appendChild(box);
});

// the before/after viewer
const sceneSelect = document.getElementById("scene"), left = document.getElementById("left"), right = document.getElementById("right");
DATA.scenes.forEach((s, i) => sceneSelect.appendChild(el("option", { value: i }, s.name)));
DATA.methods.forEach(m => { left.appendChild(el("option", { value: m }, m)); right.appendChild(el("option", { value: m }, m)); });
right.value = DATA.methods[Math.min(1, DATA.methods.length - 1)];
const slider = document.getElementById("slider");
function drawSlider() {
  const share = slider.value / 100, width = document.getElementById("under").clientWidth || 640;
  document.getElementById("top").style.width = `${share * width}px`;
  document.getElementById("over").style.width = `${width}px`;
  document.getElementById("bar").style.left = `${share * width}px`;
}
function drawViewer() {
  const scene = DATA.scenes[+sceneSelect.value];
  if (!scene) return;
  document.getElementById("over").src = scene.outputs[left.value] || "";
  document.getElementById("under").src = scene.outputs[right.value] || "";
  const scores = document.getElementById("viewer-scores"); scores.replaceChildren();
  const t = el("table"), head = el("tr"); head.appendChild(el("th", {}, scene.name));
  [left.value, right.value].forEach(m => head.appendChild(el("th", {}, m))); t.appendChild(head);
  DATA.columns.forEach(c => {
    const tr = el("tr"); tr.appendChild(el("td", {}, c));
    [left.value, right.value].forEach(m => tr.appendChild(el("td", {}, fmt(scene.scores[m] ? scene.scores[m][c] : null))));
    t.appendChild(tr);
  });
  scores.appendChild(t); drawSlider();
}
[sceneSelect, left, right].forEach(s => s.addEventListener("change", drawViewer));
slider.addEventListener("input", drawSlider);
document.getElementById("under").addEventListener("load", drawSlider);
drawViewer();

// the gallery: a card per scene, its pictures created when it scrolls into view
function fillCard(card, scene, index) {
  const row = el("div", { className: "row" });
  scene.sources.forEach((src, k) => { const f = el("figure"); if (src) f.appendChild(el("img", { src, alt: `source ${k + 1}` })); f.appendChild(el("figcaption", {}, `source ${k + 1}`)); row.appendChild(f); });
  DATA.methods.forEach(m => { const f = el("figure"); if (scene.outputs[m]) f.appendChild(el("img", { src: scene.outputs[m], alt: m })); f.appendChild(el("figcaption", {}, m)); row.appendChild(f); });
  card.appendChild(row);
  const t = el("table"), head = el("tr"); head.appendChild(el("th", {}, ""));
  DATA.columns.slice(0, 6).forEach(c => head.appendChild(el("th", {}, c))); t.appendChild(head);
  DATA.methods.forEach(m => {
    const tr = el("tr"); tr.appendChild(el("td", {}, m));
    DATA.columns.slice(0, 6).forEach(c => tr.appendChild(el("td", {}, fmt(scene.scores[m] ? scene.scores[m][c] : null))));
    t.appendChild(tr);
  });
  card.appendChild(t);
  card.addEventListener("click", () => { sceneSelect.value = index; drawViewer(); window.scrollTo({ top: document.getElementById("box").offsetTop - 80 }); });
}
const gallery = document.getElementById("gallery");
const observer = new IntersectionObserver(entries => entries.forEach(entry => {
  if (!entry.isIntersecting) return;
  const card = entry.target, index = +card.dataset.index;
  observer.unobserve(card); fillCard(card, DATA.scenes[index], index);
}), { rootMargin: "400px" });
DATA.scenes.forEach((scene, index) => {
  const card = el("div", { className: "card" });
  card.dataset.index = index;
  card.appendChild(el("div", {}, scene.name));
  gallery.appendChild(card); observer.observe(card);
});
</script>
</body>
</html>
"""
