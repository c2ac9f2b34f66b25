// The registration form sends the browser's time zone (hidden field): the emails then give
// their times in it, beside UTC. Without JavaScript the field stays empty: UTC only.
(function () {
  "use strict";
  var field = document.getElementById("time_zone");
  if (!field || typeof Intl === "undefined") return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    field.value = "";
  }
})();
