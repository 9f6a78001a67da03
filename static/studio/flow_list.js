// The flow list: a header checkbox that selects every flow on the page for the bulk actions.
// Delegated from the document, so it keeps working after htmx replaces the rows.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var all = event.target.closest && event.target.closest("[data-select-all]");
    var form = event.target.form;
    if (!form) return;
    var name = all ? all.getAttribute("data-select-all") : event.target.name;
    var boxes = form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    if (all) {
      boxes.forEach(function (box) { box.checked = all.checked; });
      return;
    }
    var head = form.querySelector('[data-select-all="' + name + '"]');
    if (!head) return;
    var checked = Array.prototype.filter.call(boxes, function (box) { return box.checked; });
    head.checked = checked.length === boxes.length;
    head.indeterminate = checked.length > 0 && checked.length < boxes.length;
  });
})();
