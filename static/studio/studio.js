// Behaviour every page shares, kept out of the markup so the Content-Security-Policy can forbid
// inline scripts. Delegated from the document, so content swapped in by htmx works too.
(function () {
  "use strict";

  // <select data-submit-on-change>: choosing an option submits its form.
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-submit-on-change]");
    if (field && field.form) field.form.submit();
  });

  // <form data-confirm="..."> and <button data-confirm="...">: ask before submitting.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm], input[type=submit][data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // [data-enter-clicks]: Enter on a focusable card acts as a click (keyboard users).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    var target = event.target.closest("[data-enter-clicks]");
    if (target && target === event.target) {
      event.preventDefault();
      target.click();
    }
  });
})();
