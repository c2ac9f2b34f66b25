// The manage page's live countdown (the page shows the time left without it too). It counts
// down from the server's figure with the browser's monotonic clock, so a device whose clock
// is wrong still shows the right time left.
(function () {
  "use strict";
  var el = document.getElementById("left");
  if (!el) return;
  var left = Number(el.dataset.seconds);
  var loaded = performance.now();
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    var s = Math.max(0, left - Math.floor((performance.now() - loaded) / 1000));
    el.textContent = Math.floor(s / 3600) + " h " + pad(Math.floor(s % 3600 / 60)) + " min " + pad(s % 60) + " s";
    if (s === 0) { window.clearInterval(timer); }
  }
  var timer = window.setInterval(tick, 1000);
  tick();
})();
