// The manage page's live countdown (the page shows the time left without it too).
(function () {
  "use strict";
  var el = document.getElementById("left");
  if (!el) return;
  var ends = new Date(el.dataset.ends).getTime();
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    var s = Math.max(0, Math.floor((ends - Date.now()) / 1000));
    el.textContent = Math.floor(s / 3600) + " h " + pad(Math.floor(s % 3600 / 60)) + " min " + pad(s % 60) + " s";
    if (s === 0) { window.clearInterval(timer); }
  }
  var timer = window.setInterval(tick, 1000);
  tick();
})();
