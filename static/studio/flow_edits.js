// Safe edits on the flow canvas (issue 17): every htmx request of the page names the revision
// of the flow the page was drawn at (the server refuses panels and edits of another revision,
// with "This flow changed since you opened it."), and Ctrl+Z / Ctrl+Shift+Z (Cmd on a Mac)
// press the header's Undo and Redo buttons, unless a field has the focus (it undoes typing).
(function () {
  "use strict";
  var head = document.getElementById("flow-head");
  if (!head) return;

  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-Flow-Revision"] = head.getAttribute("data-revision");
  });

  function isTyping(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable]"));
  }

  document.addEventListener("keydown", function (event) {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
    if (event.key !== "z" && event.key !== "Z") return;
    if (isTyping(event.target)) return;
    var button = document.getElementById(event.shiftKey ? "redo-button" : "undo-button");
    if (!button || button.disabled) return;
    event.preventDefault();
    button.click();
  });
})();
