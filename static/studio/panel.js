// The step side panel (issue 17): a refused save shows its first error where the user looks
// (scrolled into view, its field focused). (A condition's value list: condition_values.js.)
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  if (!panel) return;

  function isPreview(event) {
    var headers = event.detail.requestConfig && event.detail.requestConfig.headers;
    return !!(headers && headers["X-Studio-Preview"]);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== panel || isPreview(event)) return;
    // An error next to its field first; else the panel's own list of errors.
    var marked = panel.querySelector(".field.has-error, .response-editor.has-error, .rows.has-error, .condition .error") ||
      panel.querySelector(".errors");
    if (!marked) return;
    var details = marked.closest("details");
    if (details) details.open = true;
    marked.scrollIntoView({ block: "center" });
    var field = marked.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus({ preventScroll: true });
  });
})();
