// The report works without script; with it, the compare view shows the chosen pair and the
// timeline filters by kind. Nothing here reads anything but this page.
(function () {
  "use strict";
  var picker = document.getElementById("compare-picker");
  if (picker) {
    var selA = document.getElementById("pick-a"), selB = document.getElementById("pick-b");
    var sections = document.querySelectorAll("section[data-pair]");
    var order = Object.create(null);  // a version's position; no inherited name is a version
    Array.prototype.forEach.call(selA.options, function (o, i) { order[o.value] = i; });
    var show = function () {
      var a = selA.value, b = selB.value, note = document.getElementById("compare-note"), found = null;
      var swapped = order[a] > order[b];
      var key = swapped ? b + "|" + a : a + "|" + b;
      Array.prototype.forEach.call(sections, function (s) {
        var on = s.getAttribute("data-pair") === key;
        s.hidden = !on;
        if (on) { found = s; }
      });
      if (a === b) {
        note.textContent = "Pick two different versions.";
      } else if (!found) {
        note.textContent = "This pair was not precomputed; run: mvtools compare " + picker.getAttribute("data-model") + " " + a + " " + b;
      } else {
        note.textContent = swapped ? "Shown with the older version, " + b + ", as the baseline." : "";
      }
      document.getElementById("compare-shown").textContent = found ? key.replace("|", " → ") : "none";
      if (history.replaceState) { history.replaceState(null, "", "#" + a + ".." + b); }
    };
    var hash = decodeURIComponent(location.hash.slice(1)).split("..");
    if (hash.length === 2 && hash[0] in order && hash[1] in order) { selA.value = hash[0]; selB.value = hash[1]; }
    selA.addEventListener("change", show);
    selB.addEventListener("change", show);
    picker.hidden = false;
    show();
  }
  var filters = document.querySelectorAll("input[data-kind-filter]");
  if (filters.length) {
    var apply = function () {
      var on = {};
      Array.prototype.forEach.call(filters, function (f) { on[f.getAttribute("data-kind-filter")] = f.checked; });
      Array.prototype.forEach.call(document.querySelectorAll("tr[data-kind]"), function (tr) {
        tr.hidden = !on[tr.getAttribute("data-kind")];
      });
      var shown = document.querySelectorAll("tr[data-kind]:not([hidden])").length;
      document.getElementById("timeline-count").textContent = shown + " event" + (shown === 1 ? "" : "s") + " shown";
    };
    Array.prototype.forEach.call(filters, function (f) { f.addEventListener("change", apply); });
    document.getElementById("timeline-filter").hidden = false;
    apply();
  }
  document.documentElement.setAttribute("data-js", "ready");
}());
