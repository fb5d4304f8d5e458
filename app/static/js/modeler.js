// The designer page: the bpmn-js modeler (window.WuyiModeler, bundled from assets/modeler/) with
// validate, save draft, download and deploy. Every problem the server finds is listed, errors apart
// from warnings, and its element highlighted (marker class + overlay); clicking a problem selects
// the element.
(function () {
  "use strict";
  var configNode = document.getElementById("modeler-config");
  var canvasNode = document.getElementById("canvas");
  if (!configNode || !canvasNode) return;
  var body = canvasNode.parentNode;
  var config = JSON.parse(configNode.textContent);
  var statusNode = document.getElementById("modeler-status");
  var problemsNode = document.getElementById("problems");
  var problemList = document.getElementById("problem-list");   // errors: cannot run, deploy refuses
  var warningList = document.getElementById("warning-list");   // warnings: conventions, deploy allowed
  var dirtyFlag = document.getElementById("dirty-flag");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var dirty = false;
  var busy = false;

  function status(kind, text, links) {
    statusNode.className = "modeler-status alert " + kind;
    statusNode.textContent = text;
    (links || []).forEach(function (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      statusNode.appendChild(document.createTextNode(" "));
      statusNode.appendChild(a);
    });
  }

  if (typeof window.WuyiModeler !== "object") {
    status("error", "设计器组件加载失败，请刷新页面重试。");
    return;
  }

  var modeler = window.WuyiModeler.create({
    container: canvasNode,
    propertiesPanel: document.getElementById("properties"),
    forms: config.forms
  });

  function setDirty(value) {
    dirty = value;
    dirtyFlag.hidden = !value;
  }

  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });

  // --- talking to the server (session cookie + CSRF header) ----------------------------------

  function post(url, payload) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  function errorText(result) {
    var error = result.data && result.data.error;
    if (!error) {
      return result.status === 400 ? "页面已过期或缺少安全校验信息，请刷新页面后重试（先下载以免丢失修改）"
                                   : "服务器出错（HTTP " + result.status + "），请稍后重试";
    }
    var text = error.message || "请求失败";
    if (error.fields) {
      Object.keys(error.fields).forEach(function (name) {
        text += "；" + name + "：" + [].concat(error.fields[name]).join("，");
      });
    }
    return text;
  }

  function currentXml() {
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  // The key the diagram deploys as: its (first executable) process id.
  function processKey() {
    var definitions = modeler.getDefinitions();
    var processes = ((definitions && definitions.rootElements) || []).filter(function (el) {
      return el.$type === "bpmn:Process" && el.isExecutable !== false;
    });
    return processes.length ? processes[0].id : config.key;
  }

  // The properties panel applies typing after a 300 ms pause: let the last keystroke land first.
  var lastInput = 0;
  document.getElementById("properties").addEventListener("input", function () { lastInput = Date.now(); }, true);

  function settle() {
    var wait = lastInput + 400 - Date.now();
    return new Promise(function (resolve) { setTimeout(resolve, Math.max(0, wait)); });
  }

  function withBusy(button, work) {
    if (busy) return;
    busy = true;
    button.disabled = true;
    var done = function () { busy = false; button.disabled = false; };
    settle().then(work).then(done, function (error) {
      done();
      status("error", "操作失败：" + (error && error.message ? error.message : error));
    });
  }

  // --- problems: list, markers, overlays ----------------------------------------------------------

  var marked = [];

  function clearProblems() {
    var canvas = modeler.get("canvas");
    var overlays = modeler.get("overlays");
    marked.forEach(function (mark) { canvas.removeMarker(mark[0], mark[1]); });
    marked = [];
    overlays.remove({ type: "wuyi-problem" });
    problemList.innerHTML = "";
    warningList.innerHTML = "";
    document.getElementById("problem-errors").hidden = true;
    document.getElementById("problem-warnings").hidden = true;
    problemsNode.hidden = true;
  }

  function elementFor(id) {
    if (!id) return null;
    var element = modeler.get("elementRegistry").get(id);
    if (!element || element === modeler.get("canvas").getRootElement()) return null;
    return element;
  }

  var READABLE = 1;   // the zoom at which a problem's element and its badge can be read

  function focusElement(element, item) {
    var canvas = modeler.get("canvas");
    modeler.get("selection").select(element);
    var box = canvas.viewbox();
    if (box.scale < READABLE) {   // zoom in around the element
      var width = box.outer.width / READABLE, height = box.outer.height / READABLE;
      canvas.viewbox({ x: element.x + (element.width || 0) / 2 - width / 2,
                       y: element.y + (element.height || 0) / 2 - height / 2, width: width, height: height });
    } else {
      canvas.scrollToElement(element, { top: 120, bottom: 120, left: 160, right: 160 });
    }
    Array.prototype.forEach.call(problemsNode.querySelectorAll("li"), function (li) { li.classList.remove("current"); });
    if (item) item.classList.add("current");
  }

  function showProblems(problems) {
    clearProblems();
    if (!problems.length) return;
    var canvas = modeler.get("canvas");
    var overlays = modeler.get("overlays");
    var counts = {}, errorsAt = {};
    var errors = problems.filter(isError), warnings = problems.filter(function (p) { return !isError(p); });
    errors.concat(warnings).forEach(function (problem) {
      var element = elementFor(problem.element_id);
      var item = document.createElement("li");
      item.className = isError(problem) ? "problem" : "problem warning";
      var where = document.createElement(element ? "button" : "span");
      where.className = element ? "link problem-where" : "problem-where";
      var parts = [];
      if (problem.element_id) parts.push("元素 " + problem.element_id + (element && element.businessObject.name ? "（" + element.businessObject.name + "）" : ""));
      if (problem.line) parts.push("第 " + problem.line + " 行");
      where.textContent = parts.length ? parts.join(" · ") : "整个流程图";
      if (element) {
        where.type = "button";
        where.setAttribute("data-element-id", element.id);
        where.addEventListener("click", function () { focusElement(element, item); });
        counts[element.id] = (counts[element.id] || 0) + 1;
        if (isError(problem)) errorsAt[element.id] = true;
      }
      item.appendChild(where);
      item.appendChild(document.createTextNode("：" + problem.message));
      (isError(problem) ? problemList : warningList).appendChild(item);
    });
    Object.keys(counts).forEach(function (id) {
      var marker = errorsAt[id] ? "wuyi-problem" : "wuyi-warning";   // an error outweighs a warning
      canvas.addMarker(id, marker);
      marked.push([id, marker]);
      var badge = document.createElement("span");
      badge.className = errorsAt[id] ? "wuyi-problem-badge" : "wuyi-problem-badge warning";
      badge.title = counts[id] + (errorsAt[id] ? " 处问题（含错误）" : " 条警告");
      badge.textContent = "!" + (counts[id] > 1 ? counts[id] : "");
      overlays.add(id, "wuyi-problem", { position: { top: -12, right: 12 }, html: badge });
    });
    document.getElementById("error-count").textContent = "（" + errors.length + "）";
    document.getElementById("warning-count").textContent = "（" + warnings.length + "）";
    document.getElementById("problem-errors").hidden = !errors.length;
    document.getElementById("problem-warnings").hidden = !warnings.length;
    document.getElementById("problems-title").textContent = "流程图有 " + problems.length + " 处问题"
      + "（" + errors.length + " 个错误，" + warnings.length + " 个警告）";
    problemsNode.classList.toggle("only-warnings", !errors.length);
    problemsNode.hidden = false;
  }

  function isError(problem) { return problem.severity !== "warning"; }

  // --- the actions ----------------------------------------------------------------------------

  function validate() {
    return currentXml().then(function (xml) {
      return post(config.urls.validate, { xml: xml });
    }).then(function (result) {
      if (!result.ok) { status("error", errorText(result)); return; }
      showProblems(result.data.problems);
      var errors = result.data.problems.filter(isError).length;
      var warnings = result.data.problems.length - errors;
      if (result.data.valid && !warnings) status("success", "验证通过：没有发现问题，可以部署。");
      else if (result.data.valid) status("success", "验证通过：没有错误，可以部署；有 " + warnings + " 条警告（建模约定），建议改正，见下方列表。");
      else status("error", "验证未通过：共 " + errors + " 个错误" + (warnings ? "、" + warnings + " 条警告" : "") + "，改正错误后才能部署，见下方列表。");
    });
  }

  function saveDraft() {
    var key = processKey();
    if (!key) { status("error", "流程图没有可执行的流程（bpmn:process），无法保存草稿"); return Promise.resolve(); }
    return currentXml().then(function (xml) {
      return post(config.urls.drafts + encodeURIComponent(key), { xml: xml, base_version: config.base_version || null });
    }).then(function (result) {
      if (!result.ok) { status("error", "草稿未保存：" + errorText(result)); return; }
      setDirty(false);
      status("success", "草稿已保存（流程 " + key + "）。草稿只有您自己能看到，部署后才会生效。");
    });
  }

  function download() {
    return currentXml().then(function (xml) {
      var blob = new Blob([xml], { type: "application/xml" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = config.filename || ((processKey() || "diagram") + ".bpmn");
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      status("info", "已下载 " + link.download + "。");
    });
  }

  function deploy() {
    var messageInput = document.getElementById("deploy-message");
    var message = messageInput.value.trim();
    if (!message) {
      status("error", "请填写部署说明（说明本次修改了什么）。");
      messageInput.focus();
      return Promise.resolve();
    }
    return currentXml().then(function (xml) {
      return post(config.urls.deploy, { xml: xml, message: message });
    }).then(function (result) {
      var error = result.data && result.data.error;
      if (result.status === 422 && error && error.problems) {
        showProblems(error.problems);
        status("error", (error.message || "流程图有问题，未部署") + "。请修改下方列出的问题后再部署。");
        return;
      }
      if (!result.ok) { status("error", "未部署：" + errorText(result)); return; }
      clearProblems();
      var deployed = result.data.deployed[0];
      setDirty(false);
      messageInput.value = "";
      if (!deployed.created) {
        status("info", "流程图与第 " + deployed.version + " 版相同，没有生成新版本。",
               [{ href: deployed.versions_url, text: "查看版本" }]);
        return;
      }
      config.base_version = deployed.version;
      config.key = deployed.key;
      document.getElementById("modeler-source").textContent = "已部署的第 " + deployed.version + " 版";
      var links = [{ href: deployed.versions_url, text: "查看版本" }];
      if (deployed.diff_url) links.push({ href: deployed.diff_url, text: "与上一版对比" });
      status("success", "已部署为流程 " + deployed.key + " 的第 " + deployed.version + " 版，新建的案件将使用此版本。"
             + (deployed.warnings.length ? "警告（不影响运行，建议改正）：" + deployed.warnings.join("；") : ""), links);
    });
  }

  function bind(id, action) {
    var button = document.getElementById(id);
    button.addEventListener("click", function () { withBusy(button, action); });
  }

  // The whole diagram, left of it room for the palette (which floats over the canvas).
  function fit() {
    var canvas = modeler.get("canvas");
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox();
    if (!box.inner.width || !box.inner.height) return;
    var left = 130 / box.scale, pad = 20 / box.scale;
    canvas.viewbox({ x: box.inner.x - left, y: box.inner.y - pad,
                     width: box.inner.width + left + pad, height: box.inner.height + 2 * pad });
  }

  modeler.load(config.xml).then(function (result) {
    fit();
    modeler.on("commandStack.changed", function () { setDirty(true); });
    bind("btn-validate", validate);
    bind("btn-draft", saveDraft);
    bind("btn-download", download);
    bind("btn-deploy", deploy);
    body.setAttribute("data-state", "ready");
    var warnings = (result.warnings || []).filter(function (w) {   // name references are kept: not a problem
      return !(/^unresolved reference/.test(w.message || "") && /loopData(Input|Output)Ref$/.test(w.property || ""));
    });
    if (warnings.length) status("info", "打开时有 " + warnings.length + " 条提示：" + warnings.map(function (w) { return w.message; }).join("；"));
  }).catch(function (error) {
    body.setAttribute("data-state", "error");
    status("error", "流程图无法在设计器中打开：" + (error && error.message ? error.message : error));
  });
})();
