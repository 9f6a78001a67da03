// Entity annotation by text selection (issue 7): selecting words inside an example opens a
// small form that posts the selection's character offsets in the example's plain text.
(function () {
  "use strict";
  var form = document.getElementById("annotate-form");
  if (!form) return;

  function offsetIn(container, node, offset) {
    var range = document.createRange();
    range.selectNodeContents(container);
    range.setEnd(node, offset);
    return range.toString().length;
  }

  function onSelect() {
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed || selection.rangeCount === 0) return;
    var range = selection.getRangeAt(0);
    var start = range.startContainer.nodeType === 1 ? range.startContainer : range.startContainer.parentElement;
    var container = start && start.closest(".example-text");
    if (!container || !container.contains(range.endContainer)) return;
    var from = offsetIn(container, range.startContainer, range.startOffset);
    var to = offsetIn(container, range.endContainer, range.endOffset);
    if (to <= from) return;
    form.action = container.getAttribute("data-annotate-url");
    form.elements.start.value = from;
    form.elements.end.value = to;
    form.querySelector("[data-selection]").textContent = container.textContent.slice(from, to);
    var box = range.getBoundingClientRect();
    form.style.top = window.scrollY + box.bottom + 6 + "px";
    form.style.left = Math.max(8, window.scrollX + box.left) + "px";
    form.hidden = false;
    form.elements.entity.focus({ preventScroll: true });
  }

  document.addEventListener("mouseup", function (event) {
    if (form.contains(event.target)) return;
    window.setTimeout(onSelect, 0);
  });
  document.addEventListener("keyup", function (event) {
    if (event.shiftKey && event.target.closest && event.target.closest(".example-text")) onSelect();
    if (event.key === "Escape") form.hidden = true;
  });
  form.querySelector("[data-cancel]").addEventListener("click", function () { form.hidden = true; });
  document.querySelectorAll(".example-text").forEach(function (el) { el.tabIndex = 0; });
})();
