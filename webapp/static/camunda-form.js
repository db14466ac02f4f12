/* Camunda Forms (webapp/tasks/camunda_form.py): show and hide conditional fields as the person types.
 * The server already decided from the saved values, and the engine decides again on completion; this only
 * re-evaluates simple FEEL conditions (`a = "x"`, `this.b != true`, joined by `and` / `or`) so the page
 * need not be posted to reveal a field. A condition it cannot read is left as the server drew it. */
(function () {
  "use strict";
  var COMPARISON = /^\s*((?:this\.)?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(!=|=|<=|>=|<|>)\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)\s*$/;

  function literal(text) {
    if (text === "null") { return null; }
    if (text === "true") { return true; }
    if (text === "false") { return false; }
    if (text.charAt(0) === "\"") { return JSON.parse(text); }
    return Number(text);
  }

  function valueOf(form, name) {
    var inputs = form.querySelectorAll("[name=\"" + name.replace(/"/g, "") + "\"]");
    var value = null;
    Array.prototype.forEach.call(inputs, function (input) {
      if (input.type === "hidden") { return; }
      if (input.type === "checkbox") { value = input.checked; return; }
      if (input.type === "radio") { if (input.checked) { value = input.value; } return; }
      value = input.value === "" ? null : input.value;
    });
    return value;
  }

  function test(form, scope, text) {
    var match = COMPARISON.exec(text);
    if (!match) { return undefined; }
    var ref = match[1];
    var name = ref.indexOf("this.") === 0 ? (scope ? scope + "." : "") + ref.slice(5) : ref;
    var left = valueOf(form, name);
    var right = literal(match[3]);
    if (typeof right === "number" && left !== null) { left = Number(String(left).replace(",", ".")); }
    switch (match[2]) {
      case "=": return left === right;
      case "!=": return left !== right;
      case "<": return left !== null && left < right;
      case ">": return left !== null && left > right;
      case "<=": return left !== null && left <= right;
      default: return left !== null && left >= right;
    }
  }

  function evaluate(form, scope, condition) {
    if (condition === "true") { return true; }
    var anyTrue = false;
    var alternatives = condition.split(/\s+or\s+/);
    for (var i = 0; i < alternatives.length; i += 1) {
      var all = true;
      var parts = alternatives[i].split(/\s+and\s+/);
      for (var j = 0; j < parts.length; j += 1) {
        var result = test(form, scope, parts[j]);
        if (result === undefined) { return undefined; }
        all = all && result;
      }
      anyTrue = anyTrue || all;
    }
    return anyTrue;
  }

  function refresh(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".polku-cf-conditional[data-hide]"), function (part) {
      var hide = evaluate(form, part.getAttribute("data-scope") || "", part.getAttribute("data-hide"));
      if (hide !== undefined) { part.hidden = hide; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".polku-cf"), function (root) {
      var form = root.closest("form") || root;
      form.addEventListener("change", function () { refresh(form); });
      form.addEventListener("input", function () { refresh(form); });
    });
  });
}());
