// 督办中心: draws the charts (Chart.js) and the diagram heat map (bpmn-js NavigatedViewer) from the
// numbers the server put in #dashboard-data. Without these libraries, or without JavaScript, the page
// shows the same numbers as tables; every form works without this file.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  var data = {};
  try { data = source ? JSON.parse(source.textContent) : {}; } catch (e) { data = {}; }

  var COLORS = { blue: "#0b5394", green: "#2e7d32", red: "#c62828", grid: "#e4eaf1" };

  // A chart replaces its table; the table stays one click away ("查看数据表").
  function tuckTable(table) {
    if (!table || !table.parentNode) return;
    var details = document.createElement("details");
    details.className = "chart-data";
    var summary = document.createElement("summary");
    summary.textContent = "查看数据表";
    table.parentNode.insertBefore(details, table);
    details.appendChild(summary);
    details.appendChild(table);
  }

  function chart(canvasId, tableId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas) return;
    var box = canvas.parentNode;
    box.hidden = false;
    try {
      new window.Chart(canvas, config);
      tuckTable(document.getElementById(tableId));
    } catch (e) {
      box.hidden = true;   // the table stays in view
    }
  }

  function drawCharts() {
    if (typeof window.Chart !== "function") return;
    var common = { responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } };
    var trend = data.trend;
    if (trend && trend.labels && trend.labels.length) {
      chart("trend-chart", "trend-table", {
        type: "line",
        data: { labels: trend.labels, datasets: [
          { label: "受理", data: trend.received, borderColor: COLORS.blue, backgroundColor: COLORS.blue, tension: 0, pointRadius: 3 },
          { label: "办结", data: trend.closed, borderColor: COLORS.green, backgroundColor: COLORS.green, tension: 0, pointRadius: 3 },
          { label: "新增超期", data: trend.overdue, borderColor: COLORS.red, backgroundColor: COLORS.red,
            borderDash: [5, 3], tension: 0, pointRadius: 3 }] },
        options: Object.assign({}, common, { interaction: { mode: "index", intersect: false },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } },
                    x: { grid: { display: false } } } })
      });
    }
    var units = data.units;
    if (units && units.labels && units.labels.length) {
      chart("unit-chart", "unit-table", {
        type: "bar",
        data: { labels: units.labels, datasets: [
          { label: "超期任务", data: units.counts, backgroundColor: COLORS.red, borderRadius: 3, maxBarThickness: 22 }] },
        options: Object.assign({}, common, { indexAxis: "y", plugins: { legend: { display: false } },
          scales: { x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } },
                    y: { grid: { display: false } } } })
      });
    }
  }

  // --- the heat map -------------------------------------------------------------------------------
  function badge(text, kind, title) {
    var span = document.createElement("span");
    span.className = "heat-badge " + kind;
    span.textContent = text;
    span.title = title;
    return span;
  }

  // Red steps hold overdue tasks, amber ones due-soon tasks, blue ones only tasks on time; deeper = more.
  function heatMarker(step, maxOpen, maxOverdue) {
    function level(value, max) { var r = value / max; return r > 0.66 ? 3 : r > 0.33 ? 2 : 1; }
    if (step.overdue) return "heat-red-" + level(step.overdue, maxOverdue);
    if (step.due_soon) return "heat-amber";
    return "heat-blue-" + level(step.open, maxOpen);
  }

  function drawHeat(viewer, steps) {
    var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry"), overlays = viewer.get("overlays");
    var maxOpen = steps.reduce(function (m, s) { return Math.max(m, s.open); }, 1);
    var maxOverdue = steps.reduce(function (m, s) { return Math.max(m, s.overdue); }, 1);
    var missing = [];
    steps.forEach(function (step) {
      var element = registry.get(step.bpmn_id);
      if (!element) { missing.push(step.name); return; }
      canvas.addMarker(step.bpmn_id, heatMarker(step, maxOpen, maxOverdue));
      var wrap = document.createElement("div");
      wrap.className = "heat-badges";
      wrap.setAttribute("data-step", step.bpmn_id);
      wrap.appendChild(badge(String(step.open), "open", step.name + "：在办 " + step.open));
      if (step.overdue) wrap.appendChild(badge(String(step.overdue), "overdue", "其中超期 " + step.overdue));
      if (step.due_soon) wrap.appendChild(badge(String(step.due_soon), "soon", "其中临期 " + step.due_soon));
      overlays.add(step.bpmn_id, "heat", { position: { top: -11, right: 8 }, html: wrap });
    });
    return missing;
  }

  var READABLE = 0.8;   // a scale at which step names can be read

  // The whole diagram when it is readable; else a readable zoom on the steps that hold tasks.
  function focus(viewer, steps) {
    var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox();
    if (box.scale >= READABLE * 0.75) return;
    var hot = steps.map(function (s) { return registry.get(s.bpmn_id); }).filter(Boolean);
    if (!hot.length) return;
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    hot.forEach(function (el) {
      x0 = Math.min(x0, el.x); y0 = Math.min(y0, el.y);
      x1 = Math.max(x1, el.x + el.width); y1 = Math.max(y1, el.y + el.height);
    });
    var pad = 120;
    var width = Math.max(x1 - x0 + 2 * pad, box.outer.width / READABLE);
    var height = Math.max(y1 - y0 + 2 * pad, box.outer.height / READABLE);
    var ratio = box.outer.width / box.outer.height;   // keep the container's shape
    if (width / height > ratio) height = width / ratio; else width = height * ratio;
    canvas.viewbox({ x: (x0 + x1) / 2 - width / 2, y: (y0 + y1) / 2 - height / 2, width: width, height: height });
  }

  function heatFail(container, message) {
    container.innerHTML = "";
    var p = document.createElement("p");
    p.className = "diagram-error";
    p.textContent = message;
    container.appendChild(p);
    container.setAttribute("data-state", "error");
  }

  function drawHeatMap() {
    var container = document.getElementById("heat-diagram");
    if (!container) return;
    if (typeof window.BpmnJS !== "function") { container.hidden = true; return; }
    fetch(container.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (heat) {
        if (!heat.xml) throw new Error("no diagram");
        var viewer = new window.BpmnJS({ container: container });
        return viewer.importXML(heat.xml).then(function () {
          var steps = heat.steps || [];
          var missing = drawHeat(viewer, steps);
          focus(viewer, steps);
          window.wuyiDiagramControls(container, viewer, "定位积压环节", function () { focus(viewer, steps); });
          if (missing.length) {
            var note = document.createElement("p");
            note.className = "muted small";
            note.textContent = "以下环节不在最新版本的流程图中（运行中的旧版本案件），见下表：" + missing.join("、");
            container.parentNode.insertBefore(note, container.nextSibling);
          }
          var legend = document.querySelector(".heat-legend");
          if (legend) legend.hidden = false;
          container.setAttribute("data-state", "ready");
        });
      })
      .catch(function () { heatFail(container, "流程图加载失败，下表列出了各环节的任务数。"); });
  }

  // --- small comforts ----------------------------------------------------------------------------------
  function wireForms() {
    var select = document.getElementById("heat-process");
    if (select && select.form) {
      select.addEventListener("change", function () { select.form.submit(); });
    }
    // one action panel open at a time; Escape closes it
    var panels = Array.prototype.slice.call(document.querySelectorAll("details.row-actions"));
    panels.forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (!details.open) return;
        panels.forEach(function (other) { if (other !== details && !other.querySelector(".has-error, .form-error")) other.open = false; });
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      panels.forEach(function (details) {
        if (details.open) { details.open = false; details.querySelector("summary").focus(); }
      });
    });
    var error = document.querySelector(".has-action-error");
    if (error) {
      var field = error.querySelector("[aria-invalid=true]") || error.querySelector(".form-error");
      error.scrollIntoView({ block: "center" });
      if (field && field.focus) field.focus({ preventScroll: true });
    }
  }

  function start() {
    drawCharts();
    drawHeatMap();
    wireForms();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
