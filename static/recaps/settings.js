// The settings page (templates/recaps/settings.html): copy the calendar address with one tap.
// navigator.clipboard needs a secure context (HTTPS or localhost); where it is missing or refused, the
// address is selected instead so it can be copied by hand. No inline script: the site's CSP allows none.

function statusFor(id) {
  return document.querySelector(`[data-copy-status="${id}"]`);
}

for (const button of document.querySelectorAll("[data-copy-target]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copyTarget);
    const status = statusFor(field.id);
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = "Copied. Paste it into your calendar app.";
    } catch {
      field.focus();
      field.select();
      status.textContent = "Your browser did not allow copying: the address is selected, copy it from there.";
    }
  });
}

// One tap on the read-only field selects the whole address (a long URL is hard to select on a phone).
for (const field of document.querySelectorAll("[data-select-on-focus]")) {
  field.addEventListener("focus", () => field.select());
}
