// Refreshes the page's main part every second, from the same HTML the
// server renders, without a reload; says so when the node stops answering.
"use strict";
(function () {
  var main = document.getElementById("main");
  if (!main || !window.fetch) { return; }
  var live = function () { return document.getElementById("live"); };
  var busy = false;
  function refresh() {
    if (busy) { return; }
    busy = true;
    fetch("/?part=main", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("token needed"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        var l = live();
        if (l) { l.textContent = "live"; l.className = "live ok"; }
      })
      .catch(function (e) {
        var l = live();
        if (l) { l.textContent = "not answering: " + e.message; l.className = "live bad"; }
      })
      .finally(function () { busy = false; });
  }
  setInterval(refresh, 1000);
})();
