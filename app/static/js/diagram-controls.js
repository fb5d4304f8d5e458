// The buttons above a bpmn-js viewer (the case diagram, the dashboard's heat map): 显示全图, a
// "focus" button of the page's own (定位当前环节 / 定位积压环节), 放大, 缩小. Shared by diagram.js and
// dashboard.js, loaded before them.
window.wuyiDiagramControls = function (container, viewer, focusLabel, onFocus) {
  "use strict";
  var bar = document.createElement("div");
  bar.className = "diagram-controls";
  [["显示全图", function () { viewer.get("canvas").zoom("fit-viewport", "auto"); }],
   [focusLabel, onFocus],
   ["放大", function () { viewer.get("zoomScroll").stepZoom(1); }],
   ["缩小", function () { viewer.get("zoomScroll").stepZoom(-1); }]].forEach(function (item) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary small";
    button.textContent = item[0];
    button.addEventListener("click", item[1]);
    bar.appendChild(button);
  });
  container.parentNode.insertBefore(bar, container);
};
