// Copy buttons (Sign-in settings): the one script of the admin panel,
// served from /static under the Content-Security-Policy (no inline
// script). Without it the values stay readable and selectable; the
// buttons are hidden until this runs.
'use strict';
document.querySelectorAll('button[data-copy]').forEach((b) => { b.hidden = false; });
document.addEventListener('click', async (e) => {
  const b = e.target.closest('button[data-copy]');
  if (!b) return;
  const label = b.textContent;
  try {
    await navigator.clipboard.writeText(b.dataset.copy);
    b.textContent = 'Copied';
  } catch {
    // No clipboard access (plain http other than localhost): select the value instead.
    const code = b.previousElementSibling;
    if (code) window.getSelection().selectAllChildren(code);
    b.textContent = 'Selected: press Ctrl+C';
  }
  setTimeout(() => { b.textContent = label; }, 2000);
});
