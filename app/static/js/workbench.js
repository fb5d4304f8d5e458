// The form workbench: a live preview while typing (the server renders it with the task page's
// renderer) and the sample-data check without reloading. Without JavaScript the buttons post the
// page and the server answers with the same preview.
(function () {
  "use strict";
  var form = document.getElementById("workbench-form");
  var preview = document.getElementById("preview");
  var state = document.getElementById("preview-state");
  if (!form || !preview || !window.fetch) return;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var url = form.getAttribute("data-preview-url");
  var timer = null;
  var sequence = 0;

  function text(name) { return form.elements.namedItem(name).value; }

  function render(validate) {
    var mine = ++sequence;
    state.textContent = validate ? "（校验中…）" : "（更新中…）";
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ schema: text("schema"), uischema: text("uischema"), data: text("data"),
                             validate: !!validate })
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok || !data || typeof data.html !== "string") {
          throw new Error(data && data.error ? data.error.message : "HTTP " + response.status);
        }
        return data;
      });
    }).then(function (data) {
      if (mine !== sequence) return;   // a newer request is on its way
      preview.innerHTML = data.html;
      preview.setAttribute("data-validated", validate ? "true" : "false");
      state.textContent = "（与任务页相同的渲染）";
    }).catch(function (error) {
      if (mine !== sequence) return;
      state.textContent = "（预览失败：" + (error.message || error) + "，可点击“预览”按钮重试）";
    });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { render(false); }, 400);
  });

  form.addEventListener("submit", function (event) {
    var action = event.submitter ? event.submitter.value : "preview";
    if (action !== "preview" && action !== "validate") return;   // downloads post the form
    event.preventDefault();
    clearTimeout(timer);
    render(action === "validate");
  });
})();
