(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var overlay = document.getElementById("overlay");
  var details = document.getElementById("details");
  var header = document.getElementById("top");
  function fitHeader() { root.style.setProperty("--header", header.offsetHeight + "px"); }
  // Details: the article of a cell, shown over the matrix.
  function show(id, push) {
    var a = document.getElementById(id);
    if (!a || !a.classList.contains("detail")) { return false; }
    var cellID = "c/" + id.slice(2);
    details.replaceChildren(a.cloneNode(true));
    details.firstChild.removeAttribute("id");
    details.setAttribute("data-host", a.getAttribute("data-host"));
    details.setAttribute("data-channel", a.getAttribute("data-channel"));
    var was = document.querySelector("td.selected");
    if (was) { was.classList.remove("selected"); }
    var td = document.getElementById(cellID);
    if (td) { td.classList.add("selected"); td.scrollIntoView({ block: "nearest", inline: "nearest" }); }
    overlay.hidden = false;
    document.getElementById("close").focus();
    if (push) { try { history.replaceState(null, "", "#" + id); } catch (e) { /* file: URLs may refuse */ } }
    return true;
  }
  function hide() { overlay.hidden = true; }
  document.getElementById("close").addEventListener("click", hide);
  overlay.addEventListener("click", function (e) { if (e.target === overlay) { hide(); } });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { hide(); } });
  document.addEventListener("click", function (e) {
    var a = e.target.closest("td.cell a");
    if (a && show(a.getAttribute("href").slice(1), true)) { e.preventDefault(); }
  });
  // Filters: by host or channel name, severity and state.
  var rank = { error: 3, warning: 2, info: 1, clean: 0 };
  var q = document.getElementById("q"), sev = document.getElementById("severity"), state = document.getElementById("state");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#matrix tbody tr"));
  var heads = Array.prototype.slice.call(document.querySelectorAll("#matrix thead th"));
  var passing = Array.prototype.slice.call(document.querySelectorAll("#passing .hostlist span"));
  function apply() {
    var text = q.value.trim().toLowerCase(), min = sev.value ? rank[sev.value] : -1, want = state.value;
    var cols = heads.map(function (th, i) {
      return i === 0 || !text || th.textContent.toLowerCase().indexOf(text) >= 0 || (th.getAttribute("data-channel") || "").toLowerCase().indexOf(text) >= 0;
    });
    var channelMatch = cols.slice(1).some(function (x) { return x; }) && cols.slice(1).some(function (x) { return !x; });
    if (!channelMatch) { cols = cols.map(function () { return true; }); }
    heads.forEach(function (th, i) { th.classList.toggle("hide", !cols[i]); });
    var shown = 0;
    rows.forEach(function (tr) {
      var host = tr.getAttribute("data-host").toLowerCase();
      var ok = (!text || channelMatch || host.indexOf(text) >= 0) &&
        (min < 0 || (tr.getAttribute("data-state") !== "unchecked" && rank[tr.getAttribute("data-worst")] >= min)) &&
        (!want || tr.getAttribute("data-state") === want);
      tr.classList.toggle("hide", !ok);
      if (ok) { shown++; }
      var cells = tr.children;
      if (cells.length === heads.length) {
        for (var i = 1; i < cells.length; i++) { cells[i].classList.toggle("hide", !cols[i]); }
      }
    });
    var p = 0;
    passing.forEach(function (s) {
      var ok = (!text || channelMatch || s.getAttribute("data-host").toLowerCase().indexOf(text) >= 0) && min < 0 && (!want || want === "pass");
      s.classList.toggle("hide", !ok);
      if (ok) { p++; }
    });
    var pd = document.getElementById("passing");
    if (pd) { pd.classList.toggle("hide", p === 0); if (text && p > 0 && !channelMatch) { pd.open = true; } }
    document.getElementById("shown").textContent = shown + " of " + rows.length + " rows" + (passing.length ? ", " + p + " of " + passing.length + " passing hosts" : "");
  }
  document.getElementById("filters").hidden = false;
  [q, sev, state].forEach(function (el) { el.addEventListener("input", apply); });
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  fitHeader();
  window.addEventListener("resize", fitHeader);
  apply();
  // A deep link: a cell's details open over the matrix; a host of the
  // passing list opens that list. The ids are made of escaped names
  // (host%2001): the fragment is the id as written, not decoded.
  function follow() {
    var id = location.hash.slice(1);
    if (!id) { return; }
    if (id.indexOf("c/") === 0 && show("d/" + id.slice(2), false)) { return; }
    if (id.indexOf("d/") === 0 && show(id, false)) { return; }
    var el = document.getElementById(id);
    if (el && el.closest("#passing")) { document.getElementById("passing").open = true; }
    if (el) { el.scrollIntoView(); }
  }
  window.addEventListener("hashchange", follow);
  follow();
  document.body.setAttribute("data-ready", "1");
})();
