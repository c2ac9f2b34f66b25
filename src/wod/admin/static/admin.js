/* The console's script, on every page. Without it every page still works: the forms post,
   the dashboard's tables tell the figures, irreversible actions are asked by the server. With it,
   they are asked in a dialog, and the
   dashboard draws its charts with the Chart.js the console serves itself. */
(function () {
  "use strict";

  /* A form with data-confirm (an irreversible action) asks first, in the page's <dialog>;
     confirmed, it posts with confirmed=yes. Without the script (or without <dialog>) the form
     posts unconfirmed and the server answers its confirmation page instead. */
  document.addEventListener("submit", function (event) {
    var dialog = document.getElementById("confirm-dialog");
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    var confirmed = question && form.elements.namedItem("confirmed");
    if (!confirmed || confirmed.value === "yes" || !dialog || !dialog.showModal) {
      return;
    }
    event.preventDefault();
    var label = form.getAttribute("data-confirm-label") || "Go on";
    document.getElementById("confirm-dialog-title").textContent = label + "?";
    document.getElementById("confirm-dialog-text").textContent = question;
    document.getElementById("confirm-dialog-go").textContent = label;
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue === "go") {
        confirmed.value = "yes";
        form.submit();
      }
    };
    try {
      dialog.showModal();
    } catch (error) {
      form.submit();  /* the dialog cannot open: the server's page asks instead */
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
