// Forms on every page: form errors that htmx shows in place, and character counters.
(function () {
  "use strict";

  // A 400 or 422 answer to an htmx request is the form again with its errors, and htmx's
  // responseHandling (the htmx-config meta tag) swaps it into its target. In development,
  // django-htmx's debug script (listening on the document) would replace the whole page with
  // such an answer; stopping the event at the body keeps it from seeing these two statuses.
  // 403, 404 and 500 still reach it.
  document.body.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr && (xhr.status === 400 || xhr.status === 409 || xhr.status === 422)) {
      event.stopPropagation();
    }
  });

  // "n / max" under every text input and textarea that has a maxlength.
  function counterFor(field) {
    var id = field.id ? field.id + "-count" : "";
    var counter = id ? document.getElementById(id) : null;
    if (!counter) {
      counter = document.createElement("small");
      counter.className = "char-count";
      counter.setAttribute("aria-live", "polite");
      if (id) counter.id = id;
      field.insertAdjacentElement("afterend", counter);
    }
    return counter;
  }

  function update(field) {
    var max = parseInt(field.getAttribute("maxlength"), 10);
    if (!(max > 0)) return;
    var counter = counterFor(field);
    var length = field.value.length;
    counter.textContent = length + " / " + max;
    counter.classList.toggle("near-limit", length >= max * 0.9);
  }

  var SELECTOR = "input[maxlength]:not([type=hidden]):not([type=password]), textarea[maxlength]";

  function setUp(root) {
    var fields = root.querySelectorAll ? root.querySelectorAll(SELECTOR) : [];
    for (var i = 0; i < fields.length; i++) {
      if (!fields[i].dataset.counted) {
        fields[i].dataset.counted = "1";
        update(fields[i]);
      }
    }
  }

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field && field.matches && field.matches(SELECTOR)) update(field);
  });
  // Content htmx swaps in gets its counters too.
  document.addEventListener("htmx:load", function (event) {
    setUp(event.target);
  });
  setUp(document);
})();
