// The roster, sortable and searchable in the page itself (no server, nothing fetched).
// Without JavaScript the table is the same, complete and in class order.
(function () {
  "use strict";
  var table = document.getElementById("roster");
  var tools = document.getElementById("roster-tools");
  if (!table || !tools) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var query = document.getElementById("roster-q");
  var count = document.getElementById("roster-count");
  tools.hidden = false;

  function key(row, col, type) {
    var cell = row.cells[col];
    var raw = cell.getAttribute("data-sort");
    var text = raw !== null ? raw : cell.textContent.trim();
    return type === "num" ? parseFloat(text) : text.toLowerCase();
  }

  function show() {
    var q = query.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var hit = !q || row.textContent.toLowerCase().indexOf(q) !== -1;
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " students";
  }

  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, col) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    button.title = "Sort by " + (th.title || th.textContent);
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var down = th.getAttribute("aria-sort") === "ascending";
      var type = th.getAttribute("data-type");
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", down ? "descending" : "ascending");
      rows.sort(function (a, b) {
        var x = key(a, col, type), y = key(b, col, type);
        var order = x < y ? -1 : x > y ? 1 : 0;
        return down ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  query.addEventListener("input", show);
  show();
})();
