// The pages work without this script. It only counts down the wait before a new code
// may be asked for, and keeps the button off until then.
(function () {
  "use strict";
  function countdown(text) {
    var left = parseInt(text.getAttribute("data-countdown"), 10);
    var button = document.querySelector('[data-wait-for="' + text.id + '"]');
    if (!(left > 0)) return;
    if (button) button.disabled = true;
    function show() {
      if (left <= 0) {
        text.textContent = text.getAttribute("data-done");
        if (button) button.disabled = false;
        return;
      }
      var template = text.getAttribute(left === 1 ? "data-one" : "data-many");
      text.textContent = template.replace("{n}", String(left));
      left -= 1;
      window.setTimeout(show, 1000);
    }
    show();
  }
  document.querySelectorAll("[data-countdown]").forEach(countdown);
})();
