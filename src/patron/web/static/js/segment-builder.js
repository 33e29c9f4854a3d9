// Segment builder: add/remove rule rows, swap a row's condition and value inputs when its field
// changes (from the <template> the server rendered for that field), show the inputs a condition
// needs ("between" needs a second value, "is one of" several), and show the live count of the
// form as it stands. The page works without this file (the "Add rule" and "Count" buttons post
// the form); this only saves the round trips.
(function () {
  "use strict";
  var form = document.querySelector("form.builder");
  if (!form) { return; }
  var rowsBox = form.querySelector(".rule-rows");
  var countEl = document.getElementById("live-count");
  var errorEl = document.getElementById("live-error");
  var timer = null;
  var latest = 0;

  function templateFor(field) {
    var found = null;
    form.querySelectorAll("template[data-field]").forEach(function (t) {
      if (t.getAttribute("data-field") === field) { found = t; }
    });
    return found;
  }

  function showFor(row) {
    var op = row.querySelector("select.op");
    var current = op ? op.value : "";
    row.querySelectorAll("[data-when]").forEach(function (part) {
      part.hidden = part.getAttribute("data-when").split(" ").indexOf(current) < 0;
    });
    row.querySelectorAll("select[data-multi]").forEach(function (select) {
      select.multiple = current === "in" || current === "not_in";
      select.querySelectorAll("option[value='']").forEach(function (placeholder) {
        placeholder.hidden = select.multiple;
        if (select.multiple) { placeholder.selected = false; }
      });
    });
  }

  function fillCondition(row) {
    var field = row.querySelector("select.field-pick").value;
    var cond = row.querySelector(".cond");
    var template = templateFor(field);
    var index = row.getAttribute("data-index");
    cond.textContent = "";
    if (template) {
      var copy = template.content.cloneNode(true);
      copy.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace("__i__", index);
      });
      cond.appendChild(copy);
    }
    showFor(row);
  }

  function rowsCount() {
    var filled = 0;
    rowsBox.querySelectorAll("select.field-pick").forEach(function (s) { if (s.value) { filled++; } });
    return filled;
  }

  function count() {
    if (!rowsCount()) { countEl.textContent = "—"; errorEl.textContent = ""; return; }
    var ticket = ++latest;
    var body = new URLSearchParams(new FormData(form));
    countEl.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": form.querySelector("input[name=csrf_token]").value },
      body: body
    }).then(function (response) {
      return response.json();
    }).then(function (data) {
      if (ticket !== latest) { return; }  // an older answer arriving late
      countEl.removeAttribute("aria-busy");
      if (data.error) {
        countEl.textContent = "—";
        errorEl.textContent = data.error;
      } else {
        countEl.textContent = Number(data.count).toLocaleString(document.documentElement.lang);
        errorEl.textContent = "";
      }
    }).catch(function () { countEl.removeAttribute("aria-busy"); });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(count, 300);
  }

  function wire(row) {
    var remove = row.querySelector(".remove-rule");
    remove.hidden = false;
    remove.addEventListener("click", function () {
      if (rowsBox.querySelectorAll(".rule-row").length > 1) { row.remove(); } else {
        row.querySelector("select.field-pick").value = "";
        fillCondition(row);
      }
      later();
    });
    row.addEventListener("change", function (event) {
      if (event.target.classList.contains("field-pick")) { fillCondition(row); }
      if (event.target.classList.contains("op")) { showFor(row); }
    });
  }

  function nextIndex() {
    var most = -1;
    rowsBox.querySelectorAll(".rule-row").forEach(function (row) {
      most = Math.max(most, Number(row.getAttribute("data-index")));
    });
    return most + 1;
  }

  rowsBox.querySelectorAll(".rule-row").forEach(function (row) { wire(row); showFor(row); });
  form.querySelector("[data-role=add]").addEventListener("click", function (event) {
    event.preventDefault();
    var rows = rowsBox.querySelectorAll(".rule-row");
    var copy = rows[rows.length - 1].cloneNode(true);
    var index = String(nextIndex());
    copy.setAttribute("data-index", index);
    var pick = copy.querySelector("select.field-pick");
    pick.name = "r" + index + "-field";
    pick.value = "";
    rowsBox.appendChild(copy);
    fillCondition(copy);
    wire(copy);
    pick.focus();
  });
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  if (rowsCount()) { count(); }
}());
