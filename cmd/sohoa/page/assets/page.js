// Keeps the page current without reloading it: every two seconds it asks
// /version, and when that changed it fetches the page again and swaps the
// live sections, keeping what the clerk is typing and where the focus is.
"use strict";
(function () {
  var busy = false;
  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var active = document.activeElement, activeId = active && active.id;
    var typed = {};
    document.querySelectorAll("input[name=code]").forEach(function (i) { if (i.value) typed[i.id] = i.value; });
    document.querySelectorAll("[data-live]").forEach(function (old) {
      var fresh = doc.querySelector('[data-live="' + old.getAttribute("data-live") + '"]');
      if (fresh) old.innerHTML = fresh.innerHTML;
    });
    ["now", "n-cho-ma", "n-chua-so-hoa", "n-loi"].forEach(function (id) {
      var a = document.getElementById(id), b = doc.getElementById(id);
      if (a && b) a.textContent = b.textContent;
    });
    Object.keys(typed).forEach(function (id) { var i = document.getElementById(id); if (i) i.value = typed[id]; });
    if (activeId) { var f = document.getElementById(activeId); if (f && f !== document.activeElement) f.focus(); }
    document.body.setAttribute("data-version", doc.body.getAttribute("data-version"));
  }
  function poll() {
    if (busy) return;
    busy = true;
    fetch("/version", { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (v) {
      document.getElementById("offline").hidden = true;
      if (v === document.body.getAttribute("data-version")) return;
      return fetch("/", { cache: "no-store" }).then(function (r) { return r.text(); }).then(swap);
    }).catch(function () {
      document.getElementById("offline").hidden = false;
    }).then(function () { busy = false; });
  }
  setInterval(poll, 2000);
  var answer = document.getElementById("answer");
  if (answer) answer.focus();
})();
