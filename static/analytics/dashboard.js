// The analytics charts: each <canvas data-chart="key"> is drawn from the JSON of the same id
// (its table below holds the same numbers). Clicking a bar or a point opens its drill-down
// link: the Conversations page with the same filters.
(function () {
  "use strict";
  const COLOURS = ["#5b4bdb", "#e07a1f", "#1f9e89", "#c23b6b"];

  // A dashed vertical line with a label at each of the chart's markers (the days the
  // success criterion changed).
  const markerPlugin = {
    id: "studioMarkers",
    afterDatasetsDraw: function (chart) {
      const markers = chart.options.plugins.studioMarkers.markers || [];
      const x = chart.scales.x;
      const area = chart.chartArea;
      const context = chart.ctx;
      markers.forEach(function (marker) {
        const at = x.getPixelForValue(marker.index);
        if (at < area.left || at > area.right) return;
        context.save();
        context.strokeStyle = "#444";
        context.setLineDash([4, 3]);
        context.beginPath();
        context.moveTo(at, area.top);
        context.lineTo(at, area.bottom);
        context.stroke();
        context.setLineDash([]);
        context.fillStyle = "#444";
        context.font = "11px sans-serif";
        // Right of the line, or left of it when the label would leave the chart.
        const width = context.measureText(marker.label).width;
        const left = at + 3 + width > area.right ? at - 3 - width : at + 3;
        context.fillText(marker.label, left, area.top + 11);
        context.restore();
      });
    },
  };

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") return;
    const spec = JSON.parse(source.textContent);
    const horizontal = spec.kind === "hbar";
    const chart = new Chart(canvas, {
      type: spec.kind === "line" ? "line" : "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series, index) {
          return {
            label: series.label,
            data: series.values,
            borderColor: COLOURS[index % COLOURS.length],
            backgroundColor: COLOURS[index % COLOURS.length],
            spanGaps: true,
          };
        }),
      },
      plugins: [markerPlugin],
      options: {
        plugins: { studioMarkers: { markers: spec.markers || [] } },
        indexAxis: horizontal ? "y" : "x",
        scales: spec.percent
          ? { [horizontal ? "x" : "y"]: { min: 0, max: 100 } }
          : { [horizontal ? "x" : "y"]: { beginAtZero: true } },
        maintainAspectRatio: false,
        animation: false,
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (!elements.length) return;
          const link = spec.links[elements[0].index];
          if (link) window.location.assign(link);
        },
      },
    });
    canvas.chart = chart;
  }

  function start() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
