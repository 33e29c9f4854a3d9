// Segment builder: add/remove rule rows, keep each row's conditions in step with its field,
// and show the live count of the rules being edited. The page works without this file (the
// "Add rule" and "Count" buttons post the form); this only saves the round trips.
(function () {
  "use strict";
  var form = document.querySelector("form.builder");
  if (!form) { return; }
  var ops = JSON.parse(form.getAttribute("data-ops") || "{}");
  var rowsBox = form.querySelector(".rule-rows");
  var countEl = document.getElementById("live-count");
  var errorEl = document.getElementById("live-error");
  var timer = null;
  var latest = 0;

  function fillOps(row) {
    var field = row.querySelector("select[name=field]").value;
    var select = row.querySelector("select[name=op]");
    var current = select.value;
    var list = ops[field] || [];
    select.textContent = "";
    list.forEach(function (op) {
      var option = document.createElement("option");
      option.value = op;
      option.textContent = op;
      if (op === current) { option.selected = true; }
      select.appendChild(option);
    });
  }

  function rulesOf() {
    var join = form.querySelector("input[name=join]:checked");
    var rules = [];
    rowsBox.querySelectorAll(".rule-row").forEach(function (row) {
      var field = row.querySelector("select[name=field]").value;
      if (!field) { return; }
      rules.push({
        field: field,
        op: row.querySelector("select[name=op]").value,
        value: row.querySelector("input[name=value]").value
      });
    });
    return { join: join ? join.value : "all", rules: rules };
  }

  function count() {
    var body = rulesOf();
    if (!body.rules.length) { countEl.textContent = "—"; errorEl.textContent = ""; return; }
    var ticket = ++latest;
    countEl.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": form.querySelector("input[name=csrf_token]").value
      },
      body: JSON.stringify(body)
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
    timer = setTimeout(count, 250);
  }

  function wire(row) {
    var remove = row.querySelector(".remove-rule");
    remove.hidden = false;
    remove.addEventListener("click", function () {
      if (rowsBox.querySelectorAll(".rule-row").length > 1) { row.remove(); } else {
        row.querySelector("select[name=field]").value = "";
        row.querySelector("input[name=value]").value = "";
        fillOps(row);
      }
      later();
    });
    row.querySelector("select[name=field]").addEventListener("change", function () {
      fillOps(row);
    });
  }

  rowsBox.querySelectorAll(".rule-row").forEach(wire);
  form.querySelector("[data-role=add]").addEventListener("click", function (event) {
    event.preventDefault();
    var rows = rowsBox.querySelectorAll(".rule-row");
    var copy = rows[rows.length - 1].cloneNode(true);
    copy.querySelector("select[name=field]").value = "";
    copy.querySelector("input[name=value]").value = "";
    rowsBox.appendChild(copy);
    fillOps(copy);
    wire(copy);
    copy.querySelector("select[name=field]").focus();
  });
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  if (rulesOf().rules.length) { count(); }
}());
