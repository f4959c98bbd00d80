// The message builder (templates/capture/ask.html). The server builds the message (capture:ask_message,
// the same code as the page without JavaScript); this script makes the preview follow the choices,
// keeps the person's own edits, and copies the text.

const form = document.getElementById("ask-form");
const text = document.getElementById("ask-text");
const title = document.getElementById("ask-output-title");
const parts = document.querySelector(".ask-parts");
const editedNotice = document.getElementById("ask-edited");
const rebuild = document.getElementById("ask-rebuild");
const copyButton = document.getElementById("ask-copy");
const copied = document.getElementById("ask-copied");

let generated = text.value; // the last message built from the choices
let pending = null; // a newer message not shown because the person edited the text
let timer = null;
let inFlight = null;
let copiedTimer = null;

function isEdited() {
  return text.value !== generated;
}

function show(message) {
  generated = message.text;
  pending = null;
  text.value = message.text;
  editedNotice.hidden = true;
  const spoken = form.elements.namedItem("read_aloud").checked;
  text.classList.toggle("is-spoken", spoken);
  title.textContent = spoken ? "What to say" : "Your message";
  parts.replaceChildren(
    ...message.parts.map((part) => {
      const li = document.createElement("li");
      li.textContent = part.title;
      return li;
    }),
  );
}

async function update() {
  const params = new URLSearchParams(new FormData(form));
  history.replaceState(null, "", `?${params}`); // a reload or a bookmark keeps the choices
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  try {
    const response = await fetch(`${form.dataset.messageUrl}?${params}`, {
      signal: controller.signal,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const message = await response.json();
    if (controller.signal.aborted) return;
    if (message.text === generated) return; // same message as before (a blur's "change", say)
    if (isEdited()) {
      pending = message; // never overwrite the person's own words without asking
      editedNotice.hidden = false;
    } else {
      show(message);
    }
  } catch (error) {
    if (error.name !== "AbortError") console.warn("message builder: could not update", error.name);
  } finally {
    if (inFlight === controller) inFlight = null;
  }
}

function soon() {
  clearTimeout(timer);
  timer = setTimeout(update, 120);
}

function say(message) {
  copied.textContent = message;
  clearTimeout(copiedTimer);
  copiedTimer = setTimeout(() => {
    copied.textContent = "";
  }, 6000);
}

async function copy() {
  try {
    await navigator.clipboard.writeText(text.value);
    say("Copied");
    return;
  } catch {
    // No clipboard API (plain http on a local network) or permission refused: select it instead.
  }
  text.focus();
  text.select();
  text.setSelectionRange(0, text.value.length);
  let done = false;
  try {
    done = document.execCommand("copy");
  } catch {
    done = false;
  }
  say(done ? "Copied" : "Selected: now copy it (Ctrl+C, or long-press and Copy)");
}

form.addEventListener("change", soon);
form.addEventListener("input", (event) => {
  if (event.target.type === "text") soon();
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  update();
});
text.addEventListener("input", () => {
  if (!isEdited() && pending === null) editedNotice.hidden = true;
});
rebuild.addEventListener("click", () => {
  if (pending) show(pending);
  text.focus();
});
copyButton.addEventListener("click", copy);

copyButton.hidden = false;
document.getElementById("ask-update").hidden = true;
