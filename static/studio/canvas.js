// The flow canvas: keyboard use and small conveniences of the side panel (issue 7).
// Cards and "+" buttons load the panel through htmx; this file only adds what htmx does not:
// Escape closes the panel and gives focus back to the card that opened it, the panel takes
// focus when it opens, and "create a new ..." fields show only when that choice is picked.
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  var builder = document.querySelector(".builder");
  var opener = null;
  if (!panel || !builder) return;

  function syncPanel() {
    var open = panel.children.length > 0;
    builder.classList.toggle("has-panel", open);
    panel.querySelectorAll("[data-show-when]").forEach(function (box) {
      var rule = box.getAttribute("data-show-when").split("=");
      var select = document.getElementById(rule[0]);
      var update = function () { box.hidden = !select || select.value !== rule[1]; };
      if (select && !select.dataset.bound) {
        select.dataset.bound = "1";
        select.addEventListener("change", function () {
          panel.querySelectorAll("[data-show-when]").forEach(function (other) {
            if (other.getAttribute("data-show-when").split("=")[0] === rule[0]) {
              other.hidden = select.value !== rule[1];
            }
          });
        });
      }
      update();
    });
  }

  function closePanel() {
    panel.innerHTML = "";
    syncPanel();
    if (opener && document.body.contains(opener)) opener.focus();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.closest && source.closest("#canvas")) opener = source;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== panel) return;
    syncPanel();
    var active = document.activeElement;
    if (!active || !panel.contains(active)) {
      var first = panel.querySelector("select, input:not([type=hidden]), textarea, a.kind-message");
      if (first) first.focus({ preventScroll: true });
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel.children.length) {
      event.preventDefault();
      closePanel();
    }
    // Space on a focused card opens it, as Enter does (cards act as buttons).
    if (event.key === " " && event.target.classList && event.target.classList.contains("node")) {
      event.preventDefault();
      event.target.click();
    }
  });
  panel.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-panel]");
    if (close) {
      event.preventDefault();
      closePanel();
    }
  });
  syncPanel();
})();
