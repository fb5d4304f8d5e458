// The public portal: a new captcha image on request, and the cursor on the list of problems when a form
// comes back refused (its links lead to each field). Everything works without this file.
document.addEventListener("DOMContentLoaded", () => {
  const refresh = document.getElementById("captcha-refresh");
  const image = document.getElementById("captcha-image");
  if (refresh && image) {
    refresh.hidden = false;
    refresh.addEventListener("click", () => {
      image.src = refresh.dataset.src + "?t=" + Date.now();
      const input = document.getElementById("f-captcha");
      if (input) { input.value = ""; input.focus(); }
    });
  }
  const problems = document.querySelector(".portal [data-focus-first]");
  if (problems) problems.focus();
});
