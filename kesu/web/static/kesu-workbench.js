// kesu 客诉 — the workbench's checkboxes and keyboard shortcuts. Every page works without it.
//
// In the list: j / k move the selection, x ticks its checkbox, Enter or o opens it, / goes to
// the search box. On a complaint: c claims it, n writes an internal note, m a message to the
// customer (Ctrl+Enter sends). ? shows the list of shortcuts. Keys typed into a field are
// left alone.
(function () {
  "use strict";

  var list = document.getElementById("worklist");
  var help = document.getElementById("shortcut-help");

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    if (tag === "input") {  // a checkbox or a button is not typed into
      return !/^(checkbox|radio|button|submit|reset)$/.test(target.type || "");
    }
    return tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // ---- the list: checkboxes and the bulk-action bar ----------------------------------------
  function rows() {
    return list ? Array.prototype.slice.call(list.querySelectorAll("tbody tr[data-href]")) : [];
  }
  function picks() {
    return list ? Array.prototype.slice.call(list.querySelectorAll("input.pick-row")) : [];
  }
  var counter = document.getElementById("bulk-count");
  var all = document.getElementById("pick-all");
  function recount() {
    var boxes = picks();
    var n = boxes.filter(function (b) { return b.checked; }).length;
    if (counter) {
      counter.textContent = n ? counter.dataset.some.replace("{n}", n) : counter.dataset.none;
    }
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    rows().forEach(function (row) {
      var box = row.querySelector("input.pick-row");
      row.classList.toggle("picked", !!(box && box.checked));
    });
  }
  if (all) {
    all.addEventListener("change", function () {
      picks().forEach(function (b) { b.checked = all.checked; });
      recount();
    });
  }
  if (list) { list.addEventListener("change", recount); }

  // Only the control of the chosen action is shown.
  var action = document.getElementById("bulk-action");
  function showControls() {
    if (!action) { return; }
    document.querySelectorAll("#bulk [data-for]").forEach(function (el) {
      el.hidden = el.dataset.for !== action.value;
    });
  }
  if (action) {
    action.addEventListener("change", showControls);
    showControls();
  }

  // ---- the selection ---------------------------------------------------------------------
  var current = -1;
  function select(index) {
    var all_rows = rows();
    if (!all_rows.length) { return; }
    current = Math.max(0, Math.min(all_rows.length - 1, index));
    all_rows.forEach(function (row, i) {
      row.classList.toggle("current", i === current);
      row.setAttribute("aria-selected", i === current ? "true" : "false");
    });
    all_rows[current].scrollIntoView({ block: "nearest" });
  }
  function currentRow() { return current >= 0 ? rows()[current] : null; }

  // ---- the complaint page ----------------------------------------------------------------
  function noteBox() { return document.querySelector("form[action$='/note'] textarea[name=body]"); }
  function writeTo(intent) {
    var box = noteBox();
    if (!box) { return false; }
    box.dataset.intent = intent;
    var form = box.form;
    form.querySelectorAll("button[name=public]").forEach(function (b) {
      b.classList.toggle("intent", b.value === intent);
    });
    box.focus();
    return true;
  }
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) { return; }
    if (!box || !box.dataset || !box.dataset.intent || !box.form) { return; }
    var button = box.form.querySelector("button[name=public][value='" + box.dataset.intent + "']");
    if (button) { event.preventDefault(); button.click(); }
  });

  // ---- the keys --------------------------------------------------------------------------
  function toggleHelp(show) {
    if (!help) { return; }
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) { help.focus(); }
  }
  if (help) {
    help.addEventListener("click", function (event) {
      if (event.target === help || event.target.closest("[data-close]")) { toggleHelp(false); }
    });
  }

  var keys = {
    "j": function () { return list ? (select(current + 1), true) : false; },
    "k": function () { return list ? (select(current < 0 ? 0 : current - 1), true) : false; },
    "x": function () {
      var row = currentRow();
      var box = row && row.querySelector("input.pick-row");
      if (!box) { return false; }
      box.checked = !box.checked;
      recount();
      return true;
    },
    "o": function () {
      var row = currentRow();
      if (!row) { return false; }
      window.location.href = row.dataset.href;
      return true;
    },
    "/": function () {
      var search = document.getElementById("wb-search");
      if (!search) { return false; }
      search.focus();
      search.select();
      return true;
    },
    "c": function () {
      var form = document.querySelector("form[action$='/claim']");
      if (!form) { return false; }
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      return true;
    },
    "n": function () { return writeTo("0"); },
    "m": function () { return writeTo("1"); },
    "?": function () { toggleHelp(); return !!help; },
  };
  keys.Enter = keys.o;

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) { return; }
    if (event.key === "Escape" && help && !help.hidden) { toggleHelp(false); return; }
    if (typing(event.target)) { return; }
    // Enter on a link or a button keeps its own meaning
    if (event.key === "Enter" && event.target.closest && event.target.closest("a, button")) {
      return;
    }
    var handler = keys[event.key];
    if (handler && handler()) { event.preventDefault(); }
  });

  recount();
})();
