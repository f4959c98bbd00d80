// The edit page (templates/recaps/_edit.html) works without this file; with it, removing an item asks
// first, since a removed item cannot be brought back.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
