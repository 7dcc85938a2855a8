// The light client-side layer: copy a new key, confirm destructive actions, refresh live parts.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  field.select();
  navigator.clipboard?.writeText(field.value).then(() => { button.textContent = "Copied"; });
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
// Live parts of a page: an element with data-refresh="URL" is re-rendered from that URL
// every data-every seconds, unless the operator is working inside it (focus or a typed value).
for (const part of document.querySelectorAll("[data-refresh]")) {
  const every = Number(part.dataset.every || 10) * 1000;
  setInterval(async () => {
    if (document.hidden || part.contains(document.activeElement)) return;
    const response = await fetch(part.dataset.refresh, { credentials: "same-origin" });
    if (response.ok && response.url.endsWith(part.dataset.refresh)) part.innerHTML = await response.text();
  }, every);
}
