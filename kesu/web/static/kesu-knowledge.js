// kesu 客诉 — the complaint page's knowledge card: "插入回复" puts a reply script into the
// customer-message box (at the cursor) and counts the insertion. No inline script (CSP).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert-script]");
    if (!button) { return; }
    var box = document.querySelector('form[action$="/note"] textarea[name="body"]');
    if (!box) { return; }
    var text = button.getAttribute("data-text") || "";
    var start = box.selectionStart, end = box.selectionEnd;
    if (typeof start === "number" && document.activeElement === box) {
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
    } else {
      box.value = box.value ? box.value.replace(/\s*$/, "\n\n") + text : text;
    }
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true }));
    var card = document.getElementById("knowledge");
    if (card && window.fetch) {
      var data = new FormData();
      data.append("csrf_token", card.getAttribute("data-csrf") || "");
      window.fetch("/knowledge/" + button.getAttribute("data-article") + "/used", {
        method: "POST", body: data, credentials: "same-origin"
      });
    }
  });
})();
