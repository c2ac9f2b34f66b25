// The status page after registering: while the seat is being prepared, poll the page's small
// JSON state and reload the page once the state changed (the page works without this too: it
// refreshes itself then, and has a reload link).
(function () {
  "use strict";
  var el = document.getElementById("progress");
  if (!el || !el.hasAttribute("data-waiting")) return;
  var shown = el.dataset.state;
  var started = performance.now();
  function next() {
    // every second for a minute, then every five: a stuck seat does not hammer the portal
    window.setTimeout(poll, performance.now() - started < 60000 ? 1000 : 5000);
  }
  function poll() {
    fetch(el.dataset.poll, { cache: "no-store", credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (body) {
        if (body && body.state !== shown) { window.location.reload(); return; }
        next();
      })
      .catch(next);
  }
  next();
})();
