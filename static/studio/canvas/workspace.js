// The flow canvas as a graph (issue 17): lays out the nodes and edges the server put in
// #canvas-graph with dagre, and draws them in SVG: node boxes that open the side panel (the
// same htmx URLs as the cards of the list view), edges with arrowheads (next, branches, jumps,
// loops, end, link, call), "+" on the edges where a step can be added (only where the list view
// offers one, so view-only roles get none), zoom, pan, fit, a minimap, keyboard navigation,
// search, and export as SVG or PNG. The list of cards stays the page without JavaScript and
// the "List" view. window.StudioCanvas.highlight(stepIds) marks steps that ran.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var VIEW_KEY = "studio.canvas.view";
  var AT_KEY = "studio.canvas.at:" + window.location.pathname;
  var NODE_WIDTH = 260;
  var KIND_COLOURS = {
    start: "#5b4bdb", message: "#2f80ed", collect: "#0e9f6e", action: "#d97706",
    logic: "#8b5cf6", set_slots: "#0891b2", link: "#db2777", call: "#4f46e5",
    agent: "#0f766e", mcp: "#7c3aed", end: "#475467", flow: "#db2777"
  };
  var EDGE_COLOURS = {
    next: "#98a2b3", branch: "#8b5cf6", jump: "#d97706", loop: "#c8322a",
    end: "#98a2b3", link: "#db2777", call: "#4f46e5"
  };
  var MIN_ZOOM = 0.05;
  var MAX_ZOOM = 2.5;

  var data = document.getElementById("canvas-graph");
  var workspace = document.getElementById("workspace");
  var canvasBox = document.getElementById("canvas");
  if (!data || !workspace || !canvasBox || !window.dagre) return;
  var graph = JSON.parse(data.textContent);
  var viewport = workspace.querySelector(".ws-viewport");
  var svg = workspace.querySelector(".ws-graph");
  var minimap = workspace.querySelector(".ws-minimap");
  var zoomText = workspace.querySelector(".ws-zoom");
  var search = workspace.querySelector(".ws-search");
  var searchStatus = workspace.querySelector(".ws-search-status");

  var view = { x: 0, y: 0, k: 1 };
  var bounds = { width: 0, height: 0 };
  var scene = null;
  var minimapFrame = null;
  var nodeEls = {};  // node id -> <g>
  var positions = {};  // node id -> {x, y, width, height} (centre, as dagre gives)
  var matches = [];
  var matchIndex = -1;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function clip(text, length) {
    text = String(text == null ? "" : text);
    return text.length > length ? text.slice(0, length - 1) + "…" : text;
  }

  // ---- What the list view offers: the htmx URLs of cards and "+" gaps ----

  function cardFor(node) {
    if (node.kind === "start") return document.getElementById("step-start");
    if (!node.path) return null;
    var cards = canvasBox.querySelectorAll(".flow-column .node[data-path]");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].getAttribute("data-path") === node.path) return cards[i];
    }
    return null;
  }

  function gapLinks() {
    var found = {};
    canvasBox.querySelectorAll(".flow-column a.gap-add").forEach(function (link) {
      var url = new URL(link.getAttribute("href"), window.location.href);
      found[url.searchParams.get("list") + "|" + url.searchParams.get("index")] = link;
    });
    return found;
  }

  function open(url, source) {
    if (!url) return;
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: "#panel", source: source });
    } else {
      window.location.href = url;
    }
  }

  // ---- Layout ----

  function nodeSize(node) {
    if (node.kind === "end") return { width: 96, height: 38 };
    if (node.kind === "flow") return { width: 200, height: 52 };
    var lines = Math.min((node.lines || []).length, 3);
    var problems = Math.min((node.problems || []).length, 2) + (node.unreached ? 1 : 0);
    return { width: NODE_WIDTH, height: 54 + lines * 18 + problems * 18 };
  }

  function layout() {
    var g = new window.dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 56, edgesep: 24, marginx: 24, marginy: 24 });
    g.setDefaultEdgeLabel(function () { return {}; });
    graph.nodes.forEach(function (node) { g.setNode(node.id, nodeSize(node)); });
    graph.edges.forEach(function (edge, index) {
      var label = edge.label ? clip(edge.label, 28) : "";
      g.setEdge(edge.from, edge.to, {
        width: label ? label.length * 7 + 16 : 0,
        height: label ? 22 : 0,
        labelpos: "c",
        weight: edge.kind === "jump" || edge.kind === "loop" ? 1 : 4
      }, "e" + index);
    });
    window.dagre.layout(g);
    graph.nodes.forEach(function (node) { positions[node.id] = g.node(node.id); });
    graph.edges.forEach(function (edge, index) {
      var laid = g.edge({ v: edge.from, w: edge.to, name: "e" + index });
      edge.points = laid.points;
      edge.labelAt = laid.x !== undefined ? { x: laid.x, y: laid.y } : null;
    });
    bounds = { width: g.graph().width || 300, height: g.graph().height || 200 };
  }

  // ---- Drawing ----

  function defs(root) {
    var d = el("defs", {}, root);
    var style = el("style", {}, d);
    style.textContent = [
      "text { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }",
      ".gnode { cursor: pointer; outline: none; }",
      ".gnode .box { fill: #fff; stroke: #d5d9e2; stroke-width: 1; }",
      ".gnode:hover .box { stroke: #98a2b3; }",
      ".gnode:focus .box, .gnode.focused .box { stroke: #5b4bdb; stroke-width: 3; }",
      ".gnode.match .box { fill: #fff8db; stroke: #d9a400; stroke-width: 2.5; }",
      ".gnode.ran .box { fill: #e8f7ef; stroke: #1f7a4d; stroke-width: 2.5; }",
      ".gnode.has-problems .box { stroke: #e39d98; }",
      ".gnode.is-unreached .box { fill: #fffbeb; stroke: #d9a400; }",
      ".edge path { fill: none; stroke-width: 1.6; }",
      ".edge.kind-jump path, .edge.kind-loop path, .edge.kind-call path { stroke-dasharray: 6 4; }",
      ".edge.kind-link path { stroke-dasharray: 2 3; }",
      ".edge.ran path { stroke: #1f7a4d; stroke-width: 2.6; }",
      ".gadd { cursor: pointer; outline: none; }",
      ".gadd circle { fill: #fff; stroke: #5b4bdb; stroke-width: 1.5; }",
      ".gadd:hover circle, .gadd:focus circle { fill: #5b4bdb; }",
      ".gadd:hover text, .gadd:focus text { fill: #fff; }"
    ].join("\n");
    Object.keys(EDGE_COLOURS).forEach(function (kind) {
      var marker = el("marker", {
        id: "arrow-" + kind, viewBox: "0 0 10 10", refX: "9", refY: "5",
        markerWidth: "8", markerHeight: "8", orient: "auto-start-reverse"
      }, d);
      el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: EDGE_COLOURS[kind] }, marker);
    });
  }

  function drawNode(parent, node) {
    var at = positions[node.id];
    var colour = KIND_COLOURS[node.kind] || "#98a2b3";
    var left = at.x - at.width / 2;
    var top = at.y - at.height / 2;
    var g = el("g", {
      "class": "gnode kind-" + node.kind + ((node.problems || []).length ? " has-problems" : "") +
        (node.unreached ? " is-unreached" : ""),
      "data-id": node.id,
      transform: "translate(" + left + "," + top + ")"
    }, parent);
    var name = node.label + (node.kind === "end" ? "" : " " + (node.kind === "start" ? "" : "step ") + node.title);
    el("title", {}, g).textContent = [node.label + ": " + node.title].concat(node.lines || []).join("\n");
    if (node.kind === "end") {
      el("rect", { "class": "box", width: at.width, height: at.height, rx: at.height / 2, fill: "#f1f2f5" }, g);
      text(g, "End", at.width / 2, 24, { "text-anchor": "middle", "font-weight": "600", fill: colour });
      g.setAttribute("aria-label", "End of the flow");
      return g;
    }
    var box = el("rect", { "class": "box", width: at.width, height: at.height, rx: 10 }, g);
    if (node.kind === "flow" || node.kind === "agent" || node.kind === "mcp") {
      box.setAttribute("stroke-dasharray", "5 3");
    }
    el("rect", { width: at.width, height: 5, rx: 2, fill: colour }, g);
    var kindLine = node.label.toUpperCase();
    text(g, kindLine, 12, 22, { "font-size": "11", "font-weight": "700", fill: colour, "letter-spacing": "0.5" });
    if (node.explicit_id) {
      text(g, clip(node.id, 20), at.width - 12, 22, { "font-size": "11", fill: "#667085", "text-anchor": "end", "font-family": "ui-monospace, monospace" });
    }
    text(g, clip(node.title, 32), 12, 42, { "font-size": "14", "font-weight": "600", fill: "#1d2433" });
    var y = 42;
    (node.lines || []).slice(0, 3).forEach(function (line) {
      y += 18;
      text(g, clip(line, 40), 12, y, { "font-size": "12", fill: "#475467" });
    });
    (node.problems || []).slice(0, 2).forEach(function (problem) {
      y += 18;
      text(g, "⚠ " + clip(problem.message, 36), 12, y, {
        "font-size": "12", fill: problem.severity === "error" ? "#c8322a" : "#7a5a00"
      });
    });
    if (node.unreached) {
      y += 18;
      text(g, "⚠ Not reached from the start", 12, y, { "font-size": "12", fill: "#7a5a00" });
      box.setAttribute("stroke-dasharray", "5 3");
    }
    if (node.kind === "flow") {
      name = "Flow " + node.title + ": open it";
    } else {
      name += (node.problems || []).length ? " (" + node.problems.length + " problem(s))" : "";
      name += node.unreached ? " (not reached from the start)" : "";
      name += ": press Enter to " + (node.kind === "start" ? "edit the start" : "open it");
    }
    g.setAttribute("aria-label", name);
    return g;
  }

  function text(parent, content, x, y, attrs) {
    var t = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = content;
    return t;
  }

  function pathOf(points) {
    return points.map(function (p, i) { return (i ? "L " : "M ") + p.x + " " + p.y; }).join(" ");
  }

  function pointAlong(points, fraction) {
    var lengths = [];
    var total = 0;
    for (var i = 1; i < points.length; i++) {
      var l = Math.hypot(points[i].x - points[i - 1].x, points[i].y - points[i - 1].y);
      lengths.push(l);
      total += l;
    }
    var goal = total * fraction;
    for (var j = 0; j < lengths.length; j++) {
      if (goal <= lengths[j] || j === lengths.length - 1) {
        var t = lengths[j] ? Math.min(goal / lengths[j], 1) : 0;
        return {
          x: points[j].x + (points[j + 1].x - points[j].x) * t,
          y: points[j].y + (points[j + 1].y - points[j].y) * t
        };
      }
      goal -= lengths[j];
    }
    return points[0];
  }

  function drawEdge(parent, edge, gaps, addsOf) {
    var colour = EDGE_COLOURS[edge.kind] || "#98a2b3";
    var g = el("g", {
      "class": "edge kind-" + edge.kind + (edge.back ? " is-back" : ""),
      "data-from": edge.from, "data-to": edge.to
    }, parent);
    el("path", { d: pathOf(edge.points), stroke: colour, "marker-end": "url(#arrow-" + edge.kind + ")" }, g);
    if (edge.label && edge.labelAt) {
      var label = clip(edge.label, 28);
      var w = label.length * 7 + 16;
      el("rect", { x: edge.labelAt.x - w / 2, y: edge.labelAt.y - 11, width: w, height: 22, rx: 11, fill: "#f5f3ff", stroke: colour }, g);
      text(g, label, edge.labelAt.x, edge.labelAt.y + 4, { "text-anchor": "middle", "font-size": "12", fill: "#4c3fb1" });
    }
    var gap = edge.add && gaps[edge.add.list + "|" + edge.add.index];
    if (gap) {
      var at = pointAlong(edge.points, edge.label ? 0.82 : 0.5);
      var add = el("g", {
        "class": "gadd", tabindex: "0", role: "button", transform: "translate(" + at.x + "," + at.y + ")",
        "aria-label": gap.getAttribute("aria-label") || "Add a step here"
      });
      (addsOf[edge.from] = addsOf[edge.from] || []).push(add);
      el("title", {}, add).textContent = "Add a step here";
      el("circle", { r: 10 }, add);
      text(add, "+", 0, 5, { "text-anchor": "middle", "font-size": "15", "font-weight": "700", fill: "#5b4bdb" });
      add.addEventListener("click", function (event) {
        event.stopPropagation();
        open(gap.getAttribute("hx-get") || gap.getAttribute("href"), add);
      });
    }
  }

  function draw() {
    svg.textContent = "";
    defs(svg);
    scene = el("g", { "class": "ws-scene" }, svg);
    var edgeLayer = el("g", { "class": "ws-edges" }, scene);
    var nodeLayer = el("g", { "class": "ws-nodes" }, scene);
    var gaps = gapLinks();
    var addsOf = {};  // node id -> the "+" on its outgoing edges, which follow it in Tab order
    graph.edges.forEach(function (edge) { drawEdge(edgeLayer, edge, gaps, addsOf); });
    // Tab order follows the drawing: top to bottom, then left to right.
    var ordered = graph.nodes.slice().sort(function (a, b) {
      var pa = positions[a.id];
      var pb = positions[b.id];
      return Math.abs(pa.y - pb.y) > 8 ? pa.y - pb.y : pa.x - pb.x;
    });
    ordered.forEach(function (node) {
      var g = drawNode(nodeLayer, node);
      nodeEls[node.id] = g;
      (addsOf[node.id] || []).forEach(function (add) { nodeLayer.appendChild(add); });
      var card = cardFor(node);
      var url = null;
      if (card) url = card.getAttribute("hx-get");
      if (node.kind === "flow") url = workspace.getAttribute("data-flow-url").replace("FLOW_NAME", encodeURIComponent(node.flow));
      if (!url) return;
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", node.kind === "flow" ? "link" : "button");
      g.addEventListener("click", function () {
        if (moved) return;
        if (node.kind === "flow") window.location.href = url;
        else open(url, g);
      });
    });
    drawMinimap();
    applyView();
  }

  // ---- Zoom, pan, fit ----

  function size() {
    return { width: viewport.clientWidth || 800, height: viewport.clientHeight || 500 };
  }

  function applyView() {
    if (!scene) return;
    scene.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")");
    zoomText.textContent = Math.round(view.k * 100) + "%";
    workspace.setAttribute("data-zoom", view.k.toFixed(3));
    updateMinimapFrame();
    try { window.sessionStorage.setItem(AT_KEY, JSON.stringify(view)); } catch (e) { /* private mode */ }
  }

  // After an edit the page reloads: the view stays where it was (in this tab).
  function savedView() {
    var saved = null;
    try { saved = JSON.parse(window.sessionStorage.getItem(AT_KEY) || "null"); } catch (e) { saved = null; }
    if (!saved || !isFinite(saved.x) || !isFinite(saved.y) || !isFinite(saved.k)) return null;
    return { x: saved.x, y: saved.y, k: Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, saved.k)) };
  }

  function zoomTo(k, cx, cy) {
    var s = size();
    if (cx === undefined) { cx = s.width / 2; cy = s.height / 2; }
    k = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, k));
    view.x = cx - (cx - view.x) * (k / view.k);
    view.y = cy - (cy - view.y) * (k / view.k);
    view.k = k;
    applyView();
  }

  function fit() {
    var s = size();
    var k = Math.min(s.width / bounds.width, s.height / bounds.height, 1);
    view.k = Math.max(MIN_ZOOM, k);
    view.x = (s.width - bounds.width * view.k) / 2;
    view.y = Math.max(0, (s.height - bounds.height * view.k) / 2);
    applyView();
  }

  function centreOn(id) {
    var at = positions[id];
    if (!at) return;
    var s = size();
    if (view.k < 0.6) view.k = 0.8;
    view.x = s.width / 2 - at.x * view.k;
    view.y = s.height / 2 - at.y * view.k;
    applyView();
  }

  function panBy(dx, dy) {
    view.x += dx;
    view.y += dy;
    applyView();
  }

  var drag = null;
  var moved = false;
  viewport.addEventListener("pointerdown", function (event) {
    if (event.button !== 0 || event.target.closest(".ws-minimap")) return;
    drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, id: event.pointerId };
    moved = false;
  });
  viewport.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var dx = event.clientX - drag.x;
    var dy = event.clientY - drag.y;
    if (!moved && Math.hypot(dx, dy) < 4) return;
    if (!moved) {
      moved = true;
      viewport.setPointerCapture(drag.id);
      viewport.classList.add("is-panning");
    }
    view.x = drag.vx + dx;
    view.y = drag.vy + dy;
    applyView();
  });
  function endDrag() {
    drag = null;
    viewport.classList.remove("is-panning");
    // A click fires after pointerup: let it see `moved`, then forget it.
    setTimeout(function () { moved = false; }, 0);
  }
  viewport.addEventListener("pointerup", endDrag);
  viewport.addEventListener("pointercancel", endDrag);
  viewport.addEventListener("wheel", function (event) {
    event.preventDefault();
    var box = viewport.getBoundingClientRect();
    zoomTo(view.k * Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });

  // ---- Minimap ----

  function drawMinimap() {
    minimap.textContent = "";
    minimap.setAttribute("viewBox", "0 0 " + bounds.width + " " + bounds.height);
    graph.nodes.forEach(function (node) {
      var at = positions[node.id];
      el("rect", {
        x: at.x - at.width / 2, y: at.y - at.height / 2, width: at.width, height: at.height,
        rx: 8, fill: KIND_COLOURS[node.kind] || "#98a2b3", opacity: "0.7", "data-id": node.id
      }, minimap);
    });
    minimapFrame = el("rect", { "class": "ws-minimap-frame", fill: "none", stroke: "#5b4bdb", "stroke-width": Math.max(bounds.width, bounds.height) / 80 }, minimap);
  }

  function updateMinimapFrame() {
    if (!minimapFrame) return;
    var s = size();
    minimapFrame.setAttribute("x", -view.x / view.k);
    minimapFrame.setAttribute("y", -view.y / view.k);
    minimapFrame.setAttribute("width", s.width / view.k);
    minimapFrame.setAttribute("height", s.height / view.k);
  }

  minimap.addEventListener("click", function (event) {
    var box = minimap.getBoundingClientRect();
    var scale = Math.max(bounds.width / box.width, bounds.height / box.height);
    // The viewBox is centred in the element (preserveAspectRatio xMidYMid meet).
    var gx = (event.clientX - box.left - (box.width - bounds.width / scale) / 2) * scale;
    var gy = (event.clientY - box.top - (box.height - bounds.height / scale) / 2) * scale;
    var s = size();
    view.x = s.width / 2 - gx * view.k;
    view.y = s.height / 2 - gy * view.k;
    applyView();
  });

  // ---- Keyboard ----

  function nearest(fromId, dx, dy) {
    var from = positions[fromId];
    var best = null;
    var bestScore = Infinity;
    graph.nodes.forEach(function (node) {
      if (node.id === fromId || !nodeEls[node.id].hasAttribute("tabindex")) return;
      var at = positions[node.id];
      var ax = at.x - from.x;
      var ay = at.y - from.y;
      var along = ax * dx + ay * dy;
      if (along <= 0) return;
      var across = Math.abs(ax * dy - ay * dx);
      var score = along + across * 2;
      if (score < bestScore) { bestScore = score; best = node.id; }
    });
    return best;
  }

  function ensureVisible(id) {
    var at = positions[id];
    var s = size();
    var x = at.x * view.k + view.x;
    var y = at.y * view.k + view.y;
    if (x < 40 || y < 40 || x > s.width - 40 || y > s.height - 40) centreOn(id);
  }

  var ARROWS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
  viewport.addEventListener("keydown", function (event) {
    var node = event.target.closest && event.target.closest(".gnode[tabindex]");
    var arrow = ARROWS[event.key];
    if (node && arrow) {
      event.preventDefault();
      var next = nearest(node.getAttribute("data-id"), arrow[0], arrow[1]);
      if (next) {
        nodeEls[next].focus({ preventScroll: true });
        ensureVisible(next);
      }
      return;
    }
    if (node && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      return;
    }
    var add = event.target.closest && event.target.closest(".gadd");
    if (add && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      add.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      return;
    }
    if (event.target === viewport && arrow) {
      event.preventDefault();
      panBy(-arrow[0] * 60, -arrow[1] * 60);
    } else if (event.key === "+" || event.key === "=") {
      event.preventDefault();
      zoomTo(view.k * 1.2);
    } else if (event.key === "-") {
      event.preventDefault();
      zoomTo(view.k / 1.2);
    } else if (event.key === "0") {
      event.preventDefault();
      fit();
    }
  });
  viewport.addEventListener("focusin", function (event) {
    var node = event.target.closest && event.target.closest(".gnode");
    if (node) ensureVisible(node.getAttribute("data-id"));
  });

  // ---- Search ----

  function runSearch(query) {
    query = query.trim().toLowerCase();
    matches = [];
    matchIndex = -1;
    graph.nodes.forEach(function (node) {
      var hay = [node.id, node.label, node.title].concat(node.lines || []).join(" ").toLowerCase();
      var hit = query && node.kind !== "end" && hay.indexOf(query) !== -1;
      nodeEls[node.id].classList.toggle("match", Boolean(hit));
      if (hit) matches.push(node.id);
    });
    if (!query) { searchStatus.textContent = ""; return; }
    if (!matches.length) { searchStatus.textContent = "No step matches"; return; }
    nextMatch();
  }

  function nextMatch() {
    if (!matches.length) return;
    matchIndex = (matchIndex + 1) % matches.length;
    var id = matches[matchIndex];
    Object.keys(nodeEls).forEach(function (key) { nodeEls[key].classList.remove("focused"); });
    nodeEls[id].classList.add("focused");
    centreOn(id);
    searchStatus.textContent = (matchIndex + 1) + " of " + matches.length;
  }

  search.addEventListener("input", function () { runSearch(search.value); });
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      nextMatch();
    }
  });

  // ---- Export ----

  function exportSvg() {
    var pad = 16;
    var copy = svg.cloneNode(true);
    copy.setAttribute("width", Math.ceil(bounds.width + pad * 2));
    copy.setAttribute("height", Math.ceil(bounds.height + pad * 2));
    copy.setAttribute("viewBox", -pad + " " + -pad + " " + (bounds.width + pad * 2) + " " + (bounds.height + pad * 2));
    copy.removeAttribute("class");
    var sceneCopy = copy.querySelector(".ws-scene");
    sceneCopy.removeAttribute("transform");
    copy.querySelectorAll(".gadd").forEach(function (n) { n.remove(); });
    copy.querySelectorAll("[tabindex]").forEach(function (n) { n.removeAttribute("tabindex"); });
    copy.querySelectorAll(".focused, .match").forEach(function (n) { n.classList.remove("focused", "match"); });
    var background = el("rect", { x: -pad, y: -pad, width: bounds.width + pad * 2, height: bounds.height + pad * 2, fill: "#f6f7f9" });
    copy.insertBefore(background, sceneCopy);
    var heading = el("title", {});
    heading.textContent = document.title;
    copy.insertBefore(heading, copy.firstChild);
    return {
      text: '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(copy),
      width: bounds.width + pad * 2,
      height: bounds.height + pad * 2
    };
  }

  function fileName(ext) {
    var name = (window.location.pathname.split("/").filter(Boolean).pop() || "flow");
    return name + "." + ext;
  }

  function download(blob, name) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function exportPng() {
    var out = exportSvg();
    var scale = 2;
    var image = new Image();
    // A data: URL, not a blob: one: the page's Content Security Policy allows data: images.
    var url = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(out.text);
    image.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = Math.ceil(out.width * scale);
      canvas.height = Math.ceil(out.height * scale);
      var context = canvas.getContext("2d");
      context.scale(scale, scale);
      context.drawImage(image, 0, 0, out.width, out.height);
      canvas.toBlob(function (blob) { download(blob, fileName("png")); }, "image/png");
    };
    image.onerror = function () {
      searchStatus.textContent = "The PNG could not be made; export the SVG instead.";
    };
    image.src = url;
  }

  workspace.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.hasAttribute("data-zoom")) zoomTo(view.k * (button.getAttribute("data-zoom") === "in" ? 1.25 : 0.8));
    else if (button.hasAttribute("data-fit")) fit();
    else if (button.getAttribute("data-export") === "svg") download(new Blob([exportSvg().text], { type: "image/svg+xml" }), fileName("svg"));
    else if (button.getAttribute("data-export") === "png") exportPng();
    else if (button.hasAttribute("data-view")) setView(button.getAttribute("data-view"));
  });

  // ---- Graph or list ----

  function setView(which) {
    try { window.localStorage.setItem(VIEW_KEY, which); } catch (e) { /* private mode */ }
    var graphShown = which !== "list";
    canvasBox.classList.toggle("graph-mode", graphShown);
    workspace.querySelectorAll(".ws-view").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-view") === which));
    });
    if (graphShown && !scene) {
      var saved = savedView();
      layout();
      draw();
      if (saved) {
        view = saved;
        applyView();
      } else {
        fit();
      }
    }
  }

  // ---- The live path hook (Try marks the steps that ran) ----

  function highlight(stepIds) {
    var ran = {};
    (stepIds || []).forEach(function (id) { ran[id] = true; });
    Object.keys(nodeEls).forEach(function (id) { nodeEls[id].classList.toggle("ran", Boolean(ran[id])); });
    svg.querySelectorAll(".edge").forEach(function (edge) {
      var from = edge.getAttribute("data-from");
      edge.classList.toggle("ran", Boolean((ran[from] || from === "start") && ran[edge.getAttribute("data-to")]));
    });
    canvasBox.querySelectorAll(".flow-column .node[id^='step-']").forEach(function (card) {
      card.classList.toggle("ran", Boolean(ran[card.id.slice(5)]));
    });
  }

  workspace.hidden = false;
  var saved = null;
  try { saved = window.localStorage.getItem(VIEW_KEY); } catch (e) { /* private mode */ }
  setView(saved === "list" ? "list" : "graph");
  window.StudioCanvas = {
    highlight: highlight,
    fit: fit,
    zoom: function () { return view.k; },
    centreOn: centreOn
  };
})();
