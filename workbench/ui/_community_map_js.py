"""The browser side of :class:`workbench.ui.community_map.CommunityMap`: an inline ES module and
its styles (nothing is fetched: no CDN, no tiles). It only draws what Python sent: paths already
in view-box coordinates, colours, value words and legends for every measure, so switching the
measure needs no round trip to the kernel."""

ESM = r"""
const NS = "http://www.w3.org/2000/svg";
let counter = 0;

function svg(tag, attrs = {}) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}
function html(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
// a heading for assistive technology that is not one of the page's h3 elements (the quality
// board's category headings are its h3s)
function heading(cls, text) {
  const e = html("div", cls, text);
  e.setAttribute("role", "heading");
  e.setAttribute("aria-level", "3");
  return e;
}
function marker(symbol, x, y, colour, r, line = 1.5) {
  if (symbol === "square") {
    return svg("rect", {x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill: colour, stroke: "#fff", "stroke-width": line});
  }
  if (symbol === "cross") {
    const a = r * 1.15, b = a / 2.6;
    const d = `M${x - b},${y - a} h${2 * b} v${a - b} h${a - b} v${2 * b} h${-(a - b)} v${a - b} h${-2 * b} ` +
              `v${-(a - b)} h${-(a - b)} v${-2 * b} h${a - b} Z`;
    return svg("path", {d, fill: colour, stroke: "#fff", "stroke-width": line});
  }
  return svg("circle", {cx: x, cy: y, r, fill: colour, stroke: "#fff", "stroke-width": line});
}
function overlaps(a, b) {
  return !(a.x + a.width < b.x || b.x + b.width < a.x || a.y + a.height < b.y || b.y + b.height < a.y);
}

function render({ model, el }) {
  const uid = `wb-map-${counter++}-${Date.now().toString(36)}`;
  const hatch = `${uid}-hatch`;
  const root = html("div", "wb-map");
  const controls = html("div", "wb-map-controls");
  const chooserLabel = html("label");
  chooserLabel.htmlFor = `${uid}-measure`;
  const chooser = html("select", "wb-map-measure");
  chooser.id = `${uid}-measure`;
  const zoomIn = html("button", "wb-map-zoom-in", "+"), zoomOut = html("button", "wb-map-zoom-out", "−");
  const zoomReset = html("button", "wb-map-zoom-reset");
  const zoomBox = html("span", "wb-map-zoom");
  for (const b of [zoomIn, zoomOut, zoomReset]) { b.type = "button"; zoomBox.append(b); }
  controls.append(chooserLabel, chooser, zoomBox);

  const body = html("div", "wb-map-body");
  const figure = html("div", "wb-map-figure");
  const map = svg("svg", {class: "wb-map-svg", role: "group", preserveAspectRatio: "xMidYMid meet"});
  const defs = svg("defs");
  const pattern = svg("pattern", {id: hatch, patternUnits: "userSpaceOnUse", width: 8, height: 8,
                                  patternTransform: "rotate(45)"});
  pattern.append(svg("rect", {width: 8, height: 8, fill: "#f4f5f6"}),
                 svg("line", {x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#7d8791", "stroke-width": 3}));
  defs.append(pattern);
  const baseLayer = svg("g", {class: "wb-map-base"});
  const areaLayer = svg("g", {class: "wb-map-areas"});
  const labelLayer = svg("g", {class: "wb-map-labels", "aria-hidden": "true"});
  const outline = svg("path", {class: "wb-map-outline", fill: "none", "fill-rule": "evenodd", "aria-hidden": "true"});
  const pointLayer = svg("g", {class: "wb-map-points"});
  map.append(defs, baseLayer, areaLayer, outline, labelLayer, pointLayer);
  figure.append(map);

  const side = html("div", "wb-map-side");
  const legend = html("div", "wb-map-legend");
  const details = html("div", "wb-map-details");
  details.setAttribute("aria-live", "polite");
  side.append(legend, details);
  body.append(figure, side);
  root.append(controls, body);
  el.append(root);

  const paths = new Map();
  let view = null;      // the part of the map shown: [x, y, width, height] in view-box units
  let dragged = false;  // a drag pans the map and is not a click

  function full() { return model.get("view_box").map(Number); }
  function zoomLevel() { return view ? view[2] / full()[2] : 1; }
  function setView(v) {
    view = v;
    map.setAttribute("viewBox", v.join(" "));
    sizeMarks();
    placeLabels();
  }
  function zoom(factor) {
    const box = full(), [x, y, w, h] = view || box;
    const width = Math.min(box[2], Math.max(box[2] / 16, w / factor));
    if (width >= box[2] - 1e-6) { setView(box); return; }
    const k = width / w, cx = x + w / 2, cy = y + h / 2;
    setView([cx - (w * k) / 2, cy - (h * k) / 2, w * k, h * k]);
  }
  function sizeMarks() {
    const k = zoomLevel();
    pattern.setAttribute("patternTransform", `rotate(45) scale(${k})`);
    for (const text of labelLayer.children) {
      text.setAttribute("font-size", 13 * k);
      text.setAttribute("stroke-width", 3 * k);
    }
    pointLayer.replaceChildren();
    for (const p of model.get("points")) {
      const g = svg("g", {class: "wb-map-point", "data-kind": p.kind, "data-point": p.point_id});
      const title = svg("title");
      title.textContent = p.title;
      g.append(title, marker(p.symbol, p.x, p.y, p.colour, 6 * k, 1.5 * k));
      pointLayer.append(g);
    }
  }
  // a community's name is written where it fits inside the area and clashes with no other name
  // (larger areas first); the others are named by their hover title and the details panel
  function placeLabels() {
    if (!map.isConnected || map.getBoundingClientRect().width === 0) return;
    const placed = [];
    const labels = [...labelLayer.children].map(t => [t, paths.get(t.dataset.community).getBBox()]);
    labels.sort((a, b) => b[1].width * b[1].height - a[1].width * a[1].height);
    for (const [text, area] of labels) {
      text.removeAttribute("visibility");
      const box = text.getBBox();
      const fits = box.width <= area.width * 0.95 && box.height <= area.height * 0.95;
      if (!fits || placed.some(p => overlaps(p, box))) {
        text.setAttribute("visibility", "hidden");
      } else {
        placed.push(box);
      }
    }
  }
  new ResizeObserver(() => placeLabels()).observe(map);
  zoomIn.addEventListener("click", () => zoom(2));
  zoomOut.addEventListener("click", () => zoom(0.5));
  zoomReset.addEventListener("click", () => setView(full()));
  let start = null;
  map.addEventListener("pointerdown", (event) => {
    start = {x: event.clientX, y: event.clientY, view: (view || full()).slice()};
    dragged = false;
  });
  map.addEventListener("pointermove", (event) => {
    if (!start || zoomLevel() >= 1) return;
    const dx = event.clientX - start.x, dy = event.clientY - start.y;
    if (!dragged && Math.hypot(dx, dy) < 5) return;
    dragged = true;
    const k = start.view[2] / map.getBoundingClientRect().width;
    view = [start.view[0] - dx * k, start.view[1] - dy * k, start.view[2], start.view[3]];
    map.setAttribute("viewBox", view.join(" "));
  });
  window.addEventListener("pointerup", () => { if (start && dragged) placeLabels(); start = null; });
  map.addEventListener("click", (event) => { if (dragged) { event.stopPropagation(); dragged = false; } }, true);

  function choose(community) {
    const now = model.get("selected");
    model.set("selected", community === now ? null : community);
    model.save_changes();
  }

  function drawShapes() {
    map.setAttribute("aria-label", `${model.get("texts").map_title}: ${model.get("texts").map_areas}`);
    baseLayer.replaceChildren();
    const base = model.get("basemap");
    if (base) {
      baseLayer.append(svg("image", {href: base.href, x: base.x, y: base.y, width: base.width, height: base.height,
                                     preserveAspectRatio: "none", opacity: 0.6}));
    }
    areaLayer.replaceChildren();
    labelLayer.replaceChildren();
    paths.clear();
    for (const area of model.get("areas")) {
      const path = svg("path", {d: area.d, class: "wb-map-area", "data-community": area.community,
                                tabindex: 0, role: "button", "fill-rule": "evenodd"});
      path.append(svg("title"));
      path.addEventListener("click", () => choose(area.community));
      path.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(area.community); }
        if (event.key === "Escape") { model.set("selected", null); model.save_changes(); }
      });
      areaLayer.append(path);
      paths.set(area.community, path);
      const text = svg("text", {x: area.lx, y: area.ly, class: "wb-map-label", "text-anchor": "middle",
                                "dominant-baseline": "middle", "data-community": area.community});
      text.textContent = area.label;
      labelLayer.append(text);
    }
    setView(full());
  }

  function drawChooser() {
    const texts = model.get("texts");
    chooserLabel.textContent = texts.map_measure;
    zoomIn.setAttribute("aria-label", texts.map_zoom_in);
    zoomIn.title = texts.map_zoom_in;
    zoomOut.setAttribute("aria-label", texts.map_zoom_out);
    zoomOut.title = texts.map_zoom_out;
    zoomReset.textContent = texts.map_zoom_reset;
    chooser.replaceChildren();
    for (const [id, label] of model.get("measures")) {
      const option = html("option", "", label);
      option.value = id;
      chooser.append(option);
    }
    chooser.value = model.get("measure");
  }

  function paint() {
    const measure = model.get("measure");
    const style = model.get("styles")[measure];
    if (!style) return;
    const labels = Object.fromEntries(model.get("areas").map(a => [a.community, a.label]));
    for (const [community, path] of paths) {
      const fill = style.fill[community];
      path.setAttribute("fill", fill ?? `url(#${hatch})`);
      path.classList.toggle("wb-map-blank", fill === null || fill === undefined);
      const words = `${labels[community]}: ${style.text[community]}`;
      path.querySelector("title").textContent = words;
      path.setAttribute("aria-label", words);
    }
    chooser.value = measure;
    const texts = model.get("texts");
    legend.replaceChildren();
    legend.append(heading("wb-map-legend-heading", style.heading));
    const list = html("ul", "wb-map-classes");
    for (const item of style.legend) {
      const li = html("li");
      const swatch = html("span", "wb-map-swatch");
      swatch.style.background = item.colour;
      li.append(swatch, document.createTextNode(item.label));
      list.append(li);
    }
    if (style.blank) {
      const li = html("li", "wb-map-blank-item");
      li.append(html("span", "wb-map-swatch wb-map-hatch"), document.createTextNode(style.blank));
      list.append(li);
    }
    legend.append(list, html("p", "wb-map-note", style.note));
    const kinds = model.get("point_legend");
    if (kinds.length) {
      legend.append(heading("wb-map-legend-heading", texts.map_services));
      const points = html("ul", "wb-map-kinds");
      for (const k of kinds) {
        const li = html("li");
        const icon = svg("svg", {width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true"});
        icon.append(marker(k.symbol, 7, 7, k.colour, 6));
        li.append(icon, document.createTextNode(k.label));
        points.append(li);
      }
      legend.append(points);
    }
    showSelected();
  }

  function showSelected() {
    const selected = model.get("selected");
    const texts = model.get("texts");
    for (const [community, path] of paths) {
      path.classList.toggle("wb-map-selected", community === selected);
      path.setAttribute("aria-pressed", community === selected ? "true" : "false");
    }
    // the chosen community's outline is drawn above its neighbours
    const chosen = selected ? paths.get(selected) : null;
    if (chosen) { outline.setAttribute("d", chosen.getAttribute("d")); } else { outline.removeAttribute("d"); }
    details.replaceChildren();
    const info = selected ? model.get("details")[selected] : null;
    if (!info) {
      details.append(html("p", "wb-map-note", texts.map_details_hint));
      return;
    }
    const measure = model.get("measure");
    details.append(heading("wb-map-details-heading", info.heading));
    const table = html("table", "wb-map-values");
    const tbody = html("tbody");
    for (const [label, text, id] of info.rows) {
      const tr = html("tr", id === measure ? "wb-map-current" : "");
      tr.dataset.measure = id;
      tr.append(html("th", "", label), html("td", "", text));
      tbody.append(tr);
    }
    table.append(tbody);
    const close = html("button", "wb-map-close", texts.map_close);
    close.type = "button";
    close.addEventListener("click", () => {
      model.set("selected", null);
      model.save_changes();
      paths.get(selected)?.focus();
    });
    details.append(table, close);
  }

  chooser.addEventListener("change", () => { model.set("measure", chooser.value); model.save_changes(); });
  function redraw() { drawShapes(); drawChooser(); paint(); }
  for (const name of ["areas", "points", "view_box", "basemap"]) model.on(`change:${name}`, redraw);
  for (const name of ["measures", "texts"]) model.on(`change:${name}`, () => { drawChooser(); paint(); });
  model.on("change:areas", placeLabels);
  for (const name of ["measure", "styles", "point_legend"]) model.on(`change:${name}`, paint);
  model.on("change:details", showSelected);
  model.on("change:selected", showSelected);
  redraw();
}
export default { render };
"""

CSS = r"""
.wb-map { margin: 0.4em 0; }
.wb-map-controls { display: flex; align-items: center; gap: 0.6em; margin-bottom: 0.4em; flex-wrap: wrap; }
.wb-map-controls select { font-size: 1em; padding: 0.2em 0.4em; min-height: 32px; }
.wb-map-body { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.wb-map-figure { flex: 1 1 420px; max-width: 640px; }
.wb-map-svg { width: 100%; height: auto; display: block; background: #fbfcfd; border: 1px solid #c5ccd3;
  border-radius: 4px; }
.wb-map-area { stroke: #3d4852; stroke-width: 1; vector-effect: non-scaling-stroke; cursor: pointer; }
.wb-map-area:hover { stroke-width: 2.5; }
.wb-map .wb-map-area:focus, .wb-app .wb-map .wb-map-area:focus-visible { outline: none !important; stroke: #1f4e9c;
  stroke-width: 3.5; }
.wb-map-outline { stroke: #111; stroke-width: 3.5; vector-effect: non-scaling-stroke; pointer-events: none; }
.wb-map-label { font-weight: 600; fill: #111; stroke: #fff; paint-order: stroke; pointer-events: none; }
.wb-map-zoom { display: inline-flex; gap: 0.3em; margin-left: 0.6em; }
.wb-map-zoom button { min-width: 2.2em; min-height: 32px; font-size: 1em; }
.wb-map-svg { touch-action: none; }
.wb-map-point { pointer-events: all; }
.wb-map-side { flex: 0 1 300px; min-width: 220px; }
.wb-map-legend-heading, .wb-map-details-heading { font-size: 1em; font-weight: 700; margin: 0.5em 0 0.3em; }
.wb-map-classes, .wb-map-kinds { list-style: none; margin: 0 0 0.4em; padding: 0; }
.wb-map-classes li, .wb-map-kinds li { display: flex; align-items: center; gap: 0.5em; margin: 0.15em 0; }
.wb-map-swatch { display: inline-block; width: 1.6em; height: 1em; border: 1px solid #3d4852; flex: none; }
.wb-map-hatch { background: repeating-linear-gradient(45deg, #7d8791 0 2px, #f4f5f6 2px 6px) !important; }
.wb-map-note { color: #3d4852; font-size: 0.92em; margin: 0.2em 0; }
.wb-map-details { border-top: 1px solid #c5ccd3; margin-top: 0.5em; padding-top: 0.4em; }
.wb-map-values { border-collapse: collapse; }
.wb-map-values th { text-align: left; font-weight: normal; padding: 0.15em 1em 0.15em 0; }
.wb-map-values td { font-weight: 600; padding: 0.15em 0; white-space: nowrap; }
.wb-map-values tr.wb-map-current th, .wb-map-values tr.wb-map-current td { background: #eef3fa; }
.wb-map-close { margin-top: 0.4em; }
.wb-map :focus-visible { outline: 3px solid #1f4e9c; outline-offset: 2px; }
"""
