// An htmx request that Studio answers with an error message (a 403, 404 or 500 carrying the
// X-Studio-Error header) shows the message at the top of the page, in place, instead of
// replacing the page or doing nothing.
(function () {
  "use strict";

  function show(html) {
    const main = document.getElementById("main");
    if (!main) return;
    let list = main.querySelector(":scope > ul.messages");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messages";
      main.prepend(list);
    }
    const item = document.createElement("li");
    item.className = "studio-error";
    item.innerHTML = html; // the server's fragment, escaped where it was rendered
    list.append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  // Capturing on window runs before every other listener, including the development script
  // that would put an error answer in place of the whole document.
  window.addEventListener(
    "htmx:beforeOnLoad",
    function (event) {
      const xhr = event.detail && event.detail.xhr;
      if (!xhr || xhr.status < 400 || !xhr.getResponseHeader("X-Studio-Error")) return;
      event.stopPropagation();
      show(xhr.responseText);
    },
    true,
  );
})();
