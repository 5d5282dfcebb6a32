// kesu 客诉 — the category picker: three linked selects (level 1 → 2 → 3) in place of one
// long list of paths. It enhances <select data-category-picker>, whose options carry the
// category's path in data-path; the original select stays in the form (hidden) and holds the
// value, so without JavaScript the plain select works as before.
(function () {
  "use strict";

  function enhance(select) {
    if (!select || select.dataset.pickerReady === "1") { return; }
    select.dataset.pickerReady = "1";
    var names = [select.dataset.level1 || "1", select.dataset.level2 || "2", select.dataset.level3 || "3"];
    var anyLevel = select.dataset.anyLevel || "—";
    var emptyText = "—";
    var nodes = {}, order = [], roots = [];
    Array.prototype.forEach.call(select.options, function (option) {
      var path = option.getAttribute("data-path") || (option.value ? option.textContent.trim() : "");
      if (!option.value || !path) {
        if (!option.value) { emptyText = option.textContent; }
        return;
      }
      nodes[path] = { path: path, value: option.value, name: path.split("/").pop(), children: [] };
      order.push(path);
    });
    order.forEach(function (path) {
      var cut = path.lastIndexOf("/");
      var parent = cut > 0 ? nodes[path.slice(0, cut)] : null;
      if (parent) { parent.children.push(nodes[path]); } else { roots.push(nodes[path]); }
    });

    var box = document.createElement("span");
    box.className = "category-levels";
    var base = select.id || select.name || "category";
    var levels = names.map(function (name, i) {
      var level = document.createElement("select");
      level.id = base + "-" + (i + 1);
      level.setAttribute("aria-label", name);
      level.dataset.level = String(i + 1);
      box.appendChild(level);
      return level;
    });
    select.parentNode.insertBefore(box, select.nextSibling);
    select.hidden = true;
    if (select.id) {
      var label = document.querySelector('label[for="' + select.id + '"]');
      if (label) { label.htmlFor = levels[0].id; }
    }

    function fill(i, list, chosen) {
      var level = levels[i];
      level.textContent = "";
      var first = document.createElement("option");
      first.value = "";
      first.textContent = i === 0 ? emptyText : anyLevel;
      level.appendChild(first);
      list.forEach(function (node) {
        var option = document.createElement("option");
        option.value = node.path;
        option.textContent = node.name;
        option.selected = node.path === chosen;
        level.appendChild(option);
      });
      level.hidden = i > 0 && !list.length;
    }

    // Shows the chain of the category at ``path`` ("" for none) and puts its value into the
    // original select.
    function show(path) {
      var parts = path ? path.split("/") : [];
      var list = roots, deepest = null;
      for (var i = 0; i < levels.length; i += 1) {
        var prefix = parts.slice(0, i + 1).join("/");
        var chosen = i < parts.length && nodes[prefix] ? prefix : "";
        fill(i, list, chosen);
        if (chosen) { deepest = nodes[chosen]; }
        list = chosen ? nodes[chosen].children : [];
      }
      select.value = deepest ? deepest.value : "";
    }

    levels.forEach(function (level, i) {
      level.addEventListener("change", function () {
        show(level.value || (i > 0 ? levels[i - 1].value : ""));
        select.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
    var current = select.options[select.selectedIndex];
    show(current && current.value ? (current.getAttribute("data-path") || current.textContent.trim()) : "");
  }

  window.kesuCategoryPicker = enhance;
  document.querySelectorAll("select[data-category-picker]").forEach(enhance);
})();
