// The share links' "Copy link" button: shown only where the clipboard can be written (the
// LinkedIn and Mastodon links work without any script).
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) return;
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.hidden = false;
    var label = button.innerHTML;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.copy).then(function () {
        button.textContent = button.dataset.done;
        window.setTimeout(function () { button.innerHTML = label; }, 2000);
      });
    });
  });
})();
