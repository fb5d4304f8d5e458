// A page re-rendered with a refused field (a comment, an upload): put the cursor in that field.
// `autofocus` alone is not enough: browsers ignore it when the URL has a #fragment (the form posts to
// its section's anchor, so the page opens where the person was), and scrolling to the fragment
// after the load clears the focus, so this runs once that is done.
window.addEventListener("load", () => {
  window.setTimeout(() => {
    const field = document.querySelector("[autofocus][aria-invalid='true']");
    if (field && document.activeElement !== field) field.focus({ preventScroll: true });
  }, 0);
});
