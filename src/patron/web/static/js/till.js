// The till: a form marked data-once is sent once — a second tap while it is on its way does
// nothing (the server would replay the sale anyway: the key makes it idempotent). No inline
// script, no dependencies (CSP script-src 'self'); every page works without this file.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) {
      return;
    }
    if (form.dataset.sent === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.setAttribute("aria-busy", "true");
    });
  });
})();
