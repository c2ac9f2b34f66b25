// The catalogue without reloads: tabs and search filter the cards at once, and the seats left
// follow the api every 15 s. Without this script the tabs are links and the search a form.
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll("#cards .card"));
  var texts = document.getElementById("texts");
  var count = document.getElementById("count");
  var nothing = document.getElementById("nothing");
  var liveError = document.getElementById("live-error");
  var search = document.getElementById("q");
  if (!texts || !search) return;
  var tab = new URLSearchParams(window.location.search).get("tab") || "all";

  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  var french = document.documentElement.lang === "fr";
  function plural(one, many, n) {
    var isPlural = french ? n > 1 : n !== 1;
    return isPlural ? texts.dataset[many].replace("{n}", n) : texts.dataset[one].replace("1", n);
  }
  function matches(card, words) {
    var d = card.dataset;
    if (tab === "latest" && d.latest !== "yes") return false;
    if (tab === "popular" && d.popular !== "yes") return false;
    if (tab.indexOf("category:") === 0 && d.categories.split("|").indexOf(tab.slice(9)) < 0) return false;
    return words.every(function (w) { return d.text.indexOf(w) >= 0; });
  }
  function apply() {
    var words = fold(search.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    cards.forEach(function (card) {
      var ok = matches(card, words);
      card.hidden = !ok;
      if (ok) shown += 1;
    });
    count.textContent = plural("one", "many", shown);
    nothing.hidden = shown > 0 || cards.length === 0;
    var params = new URLSearchParams();
    if (tab !== "all") params.set("tab", tab);
    if (search.value.trim()) params.set("q", search.value.trim());
    var query = params.toString();
    window.history.replaceState(null, "", query ? "?" + query : window.location.pathname);
  }
  document.querySelectorAll(".tabs a[data-tab]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      tab = link.dataset.tab;
      document.querySelectorAll(".tabs a[data-tab]").forEach(function (other) {
        if (other === link) other.setAttribute("aria-current", "page");
        else other.removeAttribute("aria-current");
      });
      apply();
    });
  });
  search.addEventListener("input", apply);
  search.form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });

  function refresh() {
    fetch("/api/v1/workshops", { headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.status);
        return answer.json();
      })
      .then(function (workshops) {
        liveError.hidden = true;
        var left = {};
        workshops.forEach(function (w) { left[w.slug] = w.seats_left; });
        cards.forEach(function (card) {
          var n = left[card.dataset.slug];
          if (n === undefined) return;
          var seats = card.querySelector(".seats");
          seats.dataset.seats = n;
          seats.textContent = n === 0 ? texts.dataset.full : plural("seat", "seats", n);
        });
      })
      .catch(function () { liveError.hidden = false; });
  }
  window.setInterval(refresh, 15000);
})();
