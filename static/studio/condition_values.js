// A condition's value is picked from a list when its slot is categorical or bool (issue 17): the
// server draws the list for the slot a row has; this follows a change of slot in the row, on the
// canvas's side panel (branches, the start guard, a response's variations) and on the Responses
// page alike.
(function () {
  "use strict";

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
