(function () {
  "use strict";
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var numeric = rows.every(function (r) {
      var v = r.cells[col] ? r.cells[col].getAttribute("data-sort") : "";
      return v === "" || !isNaN(parseFloat(v));
    });
    rows.sort(function (a, b) {
      var x = a.cells[col] ? a.cells[col].getAttribute("data-sort") : "";
      var y = b.cells[col] ? b.cells[col].getAttribute("data-sort") : "";
      var c;
      if (numeric) {
        var fx = x === "" ? -Infinity : parseFloat(x), fy = y === "" ? -Infinity : parseFloat(y);
        c = fx < fy ? -1 : fx > fy ? 1 : 0;
      } else {
        c = x.localeCompare(y, undefined, { numeric: true });
      }
      return asc ? c : -c;
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    rows.forEach(function (r) { body.appendChild(r); });
  }
  // Binds every sortable table once: when several reports (Jupyter cells) share a page, each
  // copy of this script binds the tables that are new and leaves the others alone. No globals.
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead || !table.tBodies.length || table.dataset.atrousSortable) { return; }
    table.dataset.atrousSortable = "1";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, col, th); }
      });
    });
  });
})();
