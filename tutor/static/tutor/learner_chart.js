"use strict";
// The learner's errors per week, stacked by category, from the JSON the page embeds (#errors-chart-data).
(function () {
  const canvas = document.getElementById("errors-chart");
  const source = document.getElementById("errors-chart-data");
  if (!canvas || !source) {
    return;
  }
  if (typeof Chart === "undefined") {
    const note = document.createElement("p");
    note.id = "errors-chart-missing";
    note.className = "errornote";
    note.textContent = "Chart.js is not installed on this server (apt-get install libjs-chart.js); the counts are in #errors-chart-data.";
    canvas.replaceWith(note);
    return;
  }
  const data = JSON.parse(source.textContent);
  const colours = ["#417690", "#e69f00", "#009e73", "#cc79a7"];
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.weeks,
      datasets: data.categories.map((category, index) => ({
        label: category.label,
        data: category.counts,
        backgroundColor: colours[index % colours.length],
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      responsive: true,
      scales: {
        x: { stacked: true },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "errors" } },
      },
      plugins: {
        tooltip: {
          callbacks: {
            title: (items) => `${items[0].label} (from Monday ${data.week_starts[items[0].dataIndex]})`,
          },
        },
      },
    },
  });
  canvas.dataset.drawn = "true";
})();
