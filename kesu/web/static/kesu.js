// kesu 客诉 — a little progressive enhancement. Every page works without it.
(function () {
  "use strict";

  // A form is sent once: a second click while the first request runs is ignored.
  // (Buttons are not disabled, so the clicked button's name/value is still submitted.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.sent === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    window.setTimeout(function () { form.dataset.sent = ""; }, 8000);
  });

  // Copy buttons: <button data-copy="#id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) { return; }
    field.select();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value);
    } else {
      document.execCommand("copy");
    }
    button.textContent = button.getAttribute("data-done") || button.textContent;
  });

  // Deadlines tick down: <span class="due" data-due="ISO">. The formats and the server's
  // "now" come from <body data-…>; the skew keeps the countdown on the server's clock.
  var units = document.body.dataset;
  var skew = units.now ? Date.parse(units.now) - Date.now() : 0;
  function span(minutes) {
    var d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    if (d) { return units.fmtDays.replace("{d}", d).replace("{h}", h); }
    if (h) { return units.fmtHours.replace("{h}", h).replace("{m}", m); }
    return units.fmtMinutes.replace("{m}", m);
  }
  function tick() {
    var now = Date.now() + (isNaN(skew) ? 0 : skew);
    document.querySelectorAll(".due[data-due]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.dataset.due) - now) / 60000);
      if (isNaN(left) || !units.fmtDays) { return; }
      var over = left < 0;
      var text = over ? units.fmtOver : units.fmtLeft;
      el.textContent = text.replace("{t}", span(Math.abs(left)));
      el.classList.toggle("overdue", over);
      el.classList.toggle("soon", !over && left < 60);
      el.classList.toggle("ok", !over && left >= 60);
    });
  }
  window.setInterval(tick, 30000);

  // The bell: the unread count from the API, refreshed every minute.
  var bell = document.querySelector(".bell[data-unread]");
  function ring() {
    if (!bell || !window.fetch) { return; }
    window.fetch(bell.dataset.unread, { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        var count = bell.querySelector(".count");
        count.textContent = body.unread > 99 ? "99+" : String(body.unread);
        count.hidden = !body.unread;
      })
      .catch(function () {});
  }
  ring();
  window.setInterval(ring, 60000);

  // After a refused form, bring its error message into view.
  var problem = document.getElementById("form-error");
  if (problem) {
    problem.scrollIntoView({ block: "center" });
    problem.focus({ preventScroll: true });
  }
})();
