/* The console's script, on every page. Without it every page still works: the forms post,
   the dashboard's tables tell the figures. With it, destructive actions ask first, and the
   dashboard draws its charts with the Chart.js the console serves itself. */
(function () {
  "use strict";

  /* A form with data-confirm (Purge) asks before it posts. */
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  var source = document.getElementById("chart-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var palette = ["#00704f", "#0b57d0", "#b42318", "#8a4b00", "#6f42c1", "#1f2328"];
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var specs = JSON.parse(source.textContent);

  function draw(spec) {
    var holder = document.getElementById("chart-" + spec.id);
    if (!holder) {
      return;
    }
    var canvas = document.createElement("canvas");
    var figures = holder.parentNode.querySelector("details.figures");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", spec.title + ". The table below gives the same figures.");
    holder.appendChild(canvas);
    var datasets = spec.series.map(function (series, index) {
      var colour = palette[index % palette.length];
      return {label: series.label, data: series.data, backgroundColor: colour, borderColor: colour};
    });
    var y = {beginAtZero: true, stacked: spec.stacked, ticks: {precision: 0}};
    if (spec.percent) {
      y.max = 100;
    }
    new window.Chart(canvas, {
      type: spec.kind,
      data: {labels: spec.labels, datasets: datasets},
      options: {
        maintainAspectRatio: false,
        animation: reduced ? false : {duration: 300},
        scales: {x: {stacked: spec.stacked}, y: y},
        plugins: {legend: {display: spec.series.length > 1}}
      }
    });
    if (figures) {
      figures.open = false;  /* the chart shows them; the table is one click away */
    }
  }

  specs.forEach(draw);
}());
