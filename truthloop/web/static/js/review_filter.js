// A review page's filter: choosing a status shows it at once (the form's button does the same
// without scripts).

for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  for (const select of form.querySelectorAll("select")) {
    select.addEventListener("change", () => form.requestSubmit());
  }
}
