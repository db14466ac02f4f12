// What every page shares (a file: the Content-Security-Policy allows no inline script).
// GOV.UK error summary pattern: when a form comes back with errors, move the focus to the summary, so that
// a screen reader reads it and a keyboard user starts from its links to the fields.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
});
