// Progressive enhancement of the server-rendered forms: hide a conditional field while its condition
// does not hold (and it has neither a value nor an error), and count the characters of a field with a
// length limit. Without JavaScript every field stays visible and the limits are still written out.
(function () {
  "use strict";

  function currentValues(form, name) {
    var values = [];
    var inputs = form.querySelectorAll('[name="' + CSS.escape(name) + '"]');
    inputs.forEach(function (input) {
      if (input.type === "radio") {
        if (input.checked) values.push(input.value);
      } else if (input.type === "checkbox") {
        values.push(input.checked ? "true" : "false");
      } else {
        values.push(input.value);
      }
    });
    return values;
  }

  function isFilled(wrap) {
    var filled = false;
    wrap.querySelectorAll("input, select, textarea").forEach(function (input) {
      if (input.type === "hidden" || input.type === "file") return;
      if (input.type === "checkbox" || input.type === "radio") { filled = filled || input.checked; return; }
      filled = filled || input.value.trim() !== "";
    });
    return filled;
  }

  function update(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (wrap) {
      var rule;
      try { rule = JSON.parse(wrap.getAttribute("data-show-if")); } catch (e) { return; }
      var current = currentValues(form, rule.field);
      var holds = current.some(function (v) { return rule.values.indexOf(v) !== -1; });
      var keep = holds || wrap.classList.contains("has-error") || isFilled(wrap);
      wrap.hidden = !keep;
    });
  }

  // A length limit counts what is typed ("最多 5000 字（当前 5120 字）") instead of cutting a paste.
  function counters(form) {
    form.querySelectorAll(".limits[data-max]").forEach(function (hint) {
      var input = document.getElementById(hint.id.replace(/-limits$/, ""));
      if (!input) return;
      var max = parseInt(hint.getAttribute("data-max"), 10);
      var count = document.createElement("span");
      count.className = "count";
      hint.appendChild(count);
      function show() {
        var length = Array.from(input.value.replace(/\r\n/g, "\n")).length;   // characters, as the server counts
        count.textContent = length ? "（当前 " + length + " 字）" : "";
        hint.classList.toggle("over", length > max);
      }
      input.addEventListener("input", show);
      show();
    });
  }

  document.querySelectorAll("form.taskform").forEach(function (form) {
    update(form);
    counters(form);
    form.addEventListener("change", function () { update(form); });
  });
})();
