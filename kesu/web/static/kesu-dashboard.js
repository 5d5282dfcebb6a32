// The dashboard's charts (Apache ECharts, vendored in /static/vendor/echarts/). The numbers
// come from the JSON the server embedded (#dash-data), the same as the tables under each
// chart; a bar with a link opens it (the next category level, or the filtered workbench).
(function () {
  "use strict";
  var holder = document.getElementById("dash-data");
  if (!holder || typeof window.echarts === "undefined") return;
  var data;
  try {
    data = JSON.parse(holder.textContent || "{}");
  } catch (e) {
    return;
  }
  var palette = ["#1a5fb4", "#c62828", "#1b7f3b", "#8a5a00", "#6a3d9a", "#00838f"];
  var charts = [];

  function option(spec) {
    var horizontal = spec.kind === "bar" && spec.horizontal;
    var category = { type: "category", data: spec.x, axisLabel: { hideOverlap: true } };
    var value = { type: "value", minInterval: spec.kind === "bar" ? 1 : 0 };
    if (horizontal) category.inverse = true;
    return {
      color: palette,
      animation: false,
      // richText: the tooltip is drawn on the canvas; an HTML tooltip carries inline styles,
      // which the Content-Security-Policy (no unsafe-inline) refuses.
      tooltip: { trigger: "axis", renderMode: "richText", axisPointer: { type: spec.kind === "bar" ? "shadow" : "line" } },
      legend: spec.series.length > 1 ? { top: 0 } : undefined,
      grid: { left: 8, right: 16, top: spec.series.length > 1 ? 28 : 12, bottom: 8, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: spec.series.map(function (s) {
        return {
          name: s.name,
          type: spec.kind,
          data: s.data,
          smooth: spec.kind === "line",
          showSymbol: spec.kind === "line" && spec.x.length < 40,
          cursor: spec.links && spec.links.length ? "pointer" : "default",
        };
      }),
    };
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = data[el.getAttribute("data-chart")];
    if (!spec || !spec.x || !spec.x.length) return;
    if (spec.kind === "bar" && spec.horizontal) {
      el.style.height = Math.max(180, 28 * spec.x.length + 40) + "px";
    }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    chart.on("click", function (params) {
      var link = spec.links && spec.links[params.dataIndex];
      if (link) window.location.assign(link);
    });
    el.setAttribute("data-rendered", "1");
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) {
      c.resize();
    });
  });
})();
