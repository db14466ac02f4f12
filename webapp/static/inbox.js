// The inbox refreshes its list (htmx, hx-trigger="every 60s" on #inbox-list) without losing the person's place:
// no refresh while they are on a control inside the list or the page is hidden; focus and scroll come back
// to the same element after the swap. Without JavaScript the page works as plain links and forms.
(function () {
  "use strict";
  var focusedId = null;

  function busy(list) {
    var active = document.activeElement;
    if (document.hidden) { return true; }
    return Boolean(active && list.contains(active) && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(active.tagName));
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var list = document.getElementById("inbox-list");
    if (!list || event.detail.elt !== list) { return; }
    if (busy(list)) { event.preventDefault(); return; }
    var active = document.activeElement;
    focusedId = active && list.contains(active) && active.id ? active.id : null;
  });

  document.addEventListener("htmx:afterSwap", function () {
    if (!focusedId) { return; }
    var again = document.getElementById(focusedId);
    if (again) { again.focus({ preventScroll: true }); }
    focusedId = null;
  });
})();
