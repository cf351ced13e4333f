"use strict";
// The learner's errors and attempts per week (bars) and average score (a line on a second axis), from #progress-chart-data.
(function () {
  const canvas = document.getElementById("progress-chart");
  const source = document.getElementById("progress-chart-data");
  if (!canvas || !source) {
    return;
  }
  if (typeof Chart === "undefined") {
    const note = document.createElement("p");
    note.id = "progress-chart-missing";
    note.className = "errornote";
    note.textContent = "Chart.js is not installed on this server (apt-get install libjs-chart.js); the figures are in #progress-chart-data.";
    canvas.replaceWith(note);
    return;
  }
  const data = JSON.parse(source.textContent);
  new Chart(canvas, {
    data: {
      labels: data.weeks,
      datasets: [
        { type: "bar", label: "errors", data: data.errors, backgroundColor: "#cc79a7", yAxisID: "y" },
        { type: "bar", label: "attempts", data: data.attempts, backgroundColor: "#417690", yAxisID: "y" },
        {
          type: "line",
          label: "average score",
          data: data.average_score,
          borderColor: "#e69f00",
          backgroundColor: "#e69f00",
          spanGaps: true,
          yAxisID: "score",
        },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      responsive: true,
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "errors, attempts" } },
        score: {
          position: "right",
          min: 0,
          max: 1,
          grid: { drawOnChartArea: false },
          title: { display: true, text: "average score" },
        },
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
