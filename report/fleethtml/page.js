(function () {
  "use strict";
  var details = document.getElementById("details");
  function show(td) {
    var t = document.getElementById(td.getAttribute("data-detail"));
    if (!t) { return; }
    details.replaceChildren(t.content.cloneNode(true));
    details.setAttribute("data-host", td.getAttribute("data-host"));
    details.setAttribute("data-channel", td.getAttribute("data-channel"));
    var was = document.querySelector("td.selected");
    if (was) { was.classList.remove("selected"); }
    td.classList.add("selected");
    try { history.replaceState(null, "", "#" + td.id); } catch (e) { /* file: URLs may refuse */ }
  }
  var cells = document.querySelectorAll("td.cell");
  for (var i = 0; i < cells.length; i++) {
    (function (td) {
      td.addEventListener("click", function () { show(td); });
      td.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(td); }
      });
    })(cells[i]);
  }
  if (location.hash.length > 1) {
    var td = document.getElementById(location.hash.slice(1));
    if (td && td.classList.contains("cell")) { show(td); }
  }
  document.body.setAttribute("data-ready", "1");
})();
