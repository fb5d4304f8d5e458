// The case diagram: bpmn-js NavigatedViewer (from npm, app/static/vendor/), completed steps in green,
// the current ones in orange. The page works without it; this only adds the picture.
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || typeof window.BpmnJS !== "function") return;

  function fail(message) {
    container.innerHTML = "";
    var p = document.createElement("p");
    p.className = "diagram-error";
    p.textContent = message;
    container.appendChild(p);
    container.setAttribute("data-state", "error");
  }

  function mark(viewer, data) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var done = {};
    (data.completed || []).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, "wuyi-done"); done[id] = true; }
    });
    // a flow between two completed steps (or into a current one) was taken
    var current = {};
    (data.current || []).forEach(function (id) { current[id] = true; });
    registry.filter(function (el) { return el.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      var from = flow.businessObject.sourceRef, to = flow.businessObject.targetRef;
      if (from && to && done[from.id] && (done[to.id] || current[to.id])) canvas.addMarker(flow.id, "wuyi-done");
    });
    (data.current || []).forEach(function (id) {
      if (registry.get(id)) canvas.addMarker(id, "wuyi-current");
    });
    if (data.error && registry.get(data.error)) canvas.addMarker(data.error, "wuyi-error");
  }

  var READABLE = 0.85;   // a scale at which task names can be read

  // The whole diagram when it is small enough to read; else a readable zoom around the current step.
  function focus(viewer, data) {
    var canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox();
    if (box.scale >= READABLE * 0.75) return;
    var registry = viewer.get("elementRegistry");
    var ids = (data.current || []).concat(data.error ? [data.error] : [], (data.completed || []).slice(-1));
    var target = ids.map(function (id) { return registry.get(id); }).filter(Boolean)[0];
    if (!target) return;
    var width = box.outer.width / READABLE, height = box.outer.height / READABLE;
    canvas.viewbox({ x: target.x + target.width / 2 - width * 0.4, y: target.y + target.height / 2 - height / 2,
                     width: width, height: height });
  }

  fetch(container.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(function (data) {
      var viewer = new window.BpmnJS({ container: container });
      return viewer.importXML(data.xml).then(function () {
        mark(viewer, data);
        focus(viewer, data);
        window.wuyiDiagramControls(container, viewer, "定位当前环节", function () { focus(viewer, data); });
        container.setAttribute("data-state", "ready");
      });
    })
    .catch(function () { fail("流程图加载失败，请刷新页面重试。"); });
})();
