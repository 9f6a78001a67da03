// Try your assistant beside the canvas (issue 17, the live path): the chat opens in a drawer
// next to the flow; after every answer, the steps the conversation ran in this flow are marked
// on the canvas (the chat fragment carries them as JSON, #try-path). A link from an inspector
// turn (?step=<id>) opens the canvas centred on that step.
(function () {
  "use strict";
  var drawer = document.getElementById("try-drawer");
  var flow = drawer ? drawer.getAttribute("data-flow") : null;

  function cards(stepIds) {
    // Without the graph workspace (no JavaScript layout, or the List view): the cards.
    document.querySelectorAll(".flow-column .node[id^='step-']").forEach(function (card) {
      card.classList.toggle("ran", stepIds.indexOf(card.id.slice(5)) !== -1);
    });
  }

  function refit() {
    // The canvas makes room for the drawer (or takes it back): fit the flow to what is left.
    if (window.StudioCanvas && window.StudioCanvas.fit) window.setTimeout(window.StudioCanvas.fit, 50);
  }

  function markPath() {
    var data = document.getElementById("try-path");
    if (!data || !flow) return;
    var path = [];
    try { path = JSON.parse(data.textContent)[flow] || []; } catch (e) { path = []; }
    if (window.StudioCanvas && window.StudioCanvas.highlight) window.StudioCanvas.highlight(path);
    else cards(path);
    var count = drawer.querySelector(".try-path-count");
    if (count) count.textContent = path.length ? path.length + " step" + (path.length === 1 ? "" : "s") + " ran in this flow" : "";
  }

  if (drawer) {
    // The chat's forms swap #try itself (outerHTML): look for it after every settle.
    document.addEventListener("htmx:afterSettle", function () {
      var chat = document.getElementById("try");
      if (chat && drawer.contains(chat)) markPath();
    });
    drawer.addEventListener("click", function (event) {
      if (event.target.closest("[data-close-try]")) {
        event.preventDefault();
        drawer.querySelector(".try-drawer-body").innerHTML = "";
        drawer.classList.remove("open");
        document.body.classList.remove("try-open");
        refit();
        if (window.StudioCanvas && window.StudioCanvas.highlight) window.StudioCanvas.highlight([]);
        else cards([]);
      }
    });
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.elt && event.detail.elt.hasAttribute && event.detail.elt.hasAttribute("data-open-try")) {
        drawer.classList.add("open");
        document.body.classList.add("try-open");
        refit();
      }
    });
  }

  var wanted = new URLSearchParams(window.location.search).get("step");
  if (wanted) {
    window.addEventListener("load", function () {
      if (window.StudioCanvas && window.StudioCanvas.centreOn) window.StudioCanvas.centreOn(wanted);
      var card = document.getElementById("step-" + wanted);
      var node = document.querySelector('.ws-graph .gnode[data-id="' + CSS.escape(wanted) + '"]') || card;
      if (node) {
        node.classList.add("focused");
        if (node === card) node.scrollIntoView({ block: "center" });
        if (node.focus) node.focus({ preventScroll: true });
      }
    });
  }
})();
