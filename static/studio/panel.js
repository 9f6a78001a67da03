// The step side panel (issue 17): a refused save shows its first error where the user looks
// (scrolled into view, its field focused), and a condition's value is picked from a list when
// its slot is categorical (the server draws the list too; this follows a change of slot).
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

  function valueBox(select, values, current) {
    var box;
    if (values) {
      box = document.createElement("select");
      values.forEach(function (v) {
        var option = document.createElement("option");
        option.value = v;
        option.textContent = v;
        option.selected = v === current;
        box.appendChild(option);
      });
    } else {
      box = document.createElement("input");
      box.type = "text";
      box.placeholder = "value";
      box.value = current;
    }
    box.name = select.name;
    box.setAttribute("aria-label", "Value");
    return box;
  }

  document.addEventListener("change", function (event) {
    var slot = event.target;
    if (!slot.matches || !slot.matches(".condition[data-slot-values] select[name$='-slot']")) return;
    var fieldset = slot.closest(".condition");
    var all = JSON.parse(fieldset.getAttribute("data-slot-values") || "{}");
    var prefix = fieldset.getAttribute("data-prefix");
    var value = slot.closest(".clause").querySelector("[name='" + prefix + "-value']");
    if (!value) return;
    var values = all[slot.value] || null;
    if (!values && value.tagName === "INPUT") return;
    value.replaceWith(valueBox(value, values, values && values.indexOf(value.value) < 0 ? values[0] : value.value));
  });
})();
