// The consent gate (templates/capture/consent.html). Shows "Where is your therapist?" only for video
// sessions and keeps the rule panel in step with the answers, rendered by the server
// (capture:consent_rule) so there is one source for the wording. Without this script the page still
// works: every field is shown and "Show the rule" posts the form.
//
// The hidden shown_for field says which answers the visible rule belongs to. It is cleared the moment
// an answer changes and set again only when the new rule is on screen, so the server can refuse a
// confirmation given for a rule the person never saw.

const form = document.getElementById("consent-form");
const live = document.getElementById("consent-rule-live");
const therapistField = document.getElementById("therapist-field");
const shownFor = form.elements.namedItem("shown_for");
const client = form.elements.namedItem("client_location");
const therapist = form.elements.namedItem("therapist_location");

let inFlight = null;

function sessionType() {
  const checked = form.querySelector("input[name=session_type]:checked");
  return checked ? checked.value : "";
}

function syncTherapistField() {
  const video = sessionType() === "video";
  therapistField.hidden = !video;
  therapist.required = video;
}

async function refreshRule() {
  shownFor.value = "";
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  const params = new URLSearchParams({
    session_type: sessionType(),
    client_location: client.value,
    therapist_location: therapist.value,
  });
  try {
    const response = await fetch(`${form.dataset.ruleUrl}?${params}`, {
      signal: controller.signal,
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) return; // keep the page as it is; the server re-checks on Continue
    const html = await response.text();
    if (controller.signal.aborted) return;
    // A <template> parses without running anything; the fragment is our own server-escaped HTML.
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const panel = template.content.querySelector("#consent-rule");
    if (!panel) return;
    live.replaceChildren(panel);
    shownFor.value = panel.dataset.shownFor || "";
  } catch (error) {
    if (error.name !== "AbortError") console.warn("consent rule: could not refresh", error.name);
  } finally {
    if (inFlight === controller) inFlight = null;
  }
}

// Errors the server showed (Django marks the field aria-invalid and points aria-describedby at the
// message) go away once their field holds a valid answer, so nobody is told off for what they fixed.
// The server checks everything again on Continue; an answer made invalid again is refused there.
const ERRORS = {
  session_type: { message: "id_session_type_error", valid: () => sessionType() !== "" },
  client_location: { message: "id_client_location_error", valid: () => client.value !== "" },
  therapist_location: {
    message: "id_therapist_location_error",
    valid: () => sessionType() !== "video" || therapist.value !== "",
  },
  therapist_agreed: {
    message: "confirm-error",
    valid: () => form.elements.namedItem("therapist_agreed").checked,
  },
};

function controlsOf(name) {
  const item = form.elements.namedItem(name);
  return item instanceof RadioNodeList ? [...item] : item ? [item] : [];
}

function clearFixedErrors() {
  for (const [name, { message, valid }] of Object.entries(ERRORS)) {
    const controls = controlsOf(name);
    if (!controls.some((el) => el.getAttribute("aria-invalid") === "true") || !valid()) continue;
    for (const el of controls) el.removeAttribute("aria-invalid");
    // The field, or its fieldset, may name other descriptions (a hint) too: only the error's id goes.
    for (const el of form.querySelectorAll(`[aria-describedby~="${message}"]`)) {
      const rest = el.getAttribute("aria-describedby").split(/\s+/).filter((id) => id && id !== message);
      if (rest.length) el.setAttribute("aria-describedby", rest.join(" "));
      else el.removeAttribute("aria-describedby");
    }
    document.getElementById(message)?.remove();
    controls[0].closest(".has-error")?.classList.remove("has-error");
  }
  // Nothing left to fix: the summary at the top goes too.
  if (!form.querySelector("[aria-invalid=true]")) form.querySelector(".consent-error-summary")?.remove();
}

form.addEventListener("change", (event) => {
  const name = event.target.name;
  if (name === "session_type") syncTherapistField();
  if (name === "session_type" || name === "client_location" || name === "therapist_location") refreshRule();
  clearFixedErrors();
});

syncTherapistField();
