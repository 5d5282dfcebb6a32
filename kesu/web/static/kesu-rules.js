// kesu 客诉 — the structured routing-rule editor.
//
// Conditions as rows of (field, operator, value) in an all/any group, with sub-groups one
// level deep and "not" on any group; actions as rows of (type + parameters). What it offers
// comes from the catalog in <div data-rule-editor data-catalog='…'> (the condition language's
// fields, kinds and operators; the action types and their parameters; teams; categories).
// The rows are posted as c-N-… / cg-N-… / a-N-… fields with editor=rows; the server turns them
// into the same JSON and validates it as it does typed JSON. "JSON 编辑" shows the JSON
// textareas (written from the rows) for experts; editor=json then sends the JSON instead.
// Without JavaScript the page shows the JSON textareas only.
(function () {
  "use strict";

  function make(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "text") { node.textContent = props[key]; }
      else if (key === "className") { node.className = props[key]; }
      else if (key.indexOf("data-") === 0 || key === "aria-label" || key === "for") {
        node.setAttribute(key, props[key]);
      } else { node[key] = props[key]; }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function options(select, list, chosen, blank) {
    if (blank !== undefined) { select.appendChild(make("option", { value: "", text: blank })); }
    list.forEach(function (item) {
      var option = make("option", { value: item.value, text: item.label });
      option.selected = String(item.value) === String(chosen);
      select.appendChild(option);
    });
    return select;
  }

  function init(root) {
    var catalog = JSON.parse(root.getAttribute("data-catalog") || "{}");
    if (!catalog.conditions) { return; }
    var S = catalog.strings;
    var fields = {};
    catalog.conditions.fields.forEach(function (f) { fields[f.name] = f; });
    var ops = catalog.conditions.ops;
    var specs = {};
    catalog.actions.forEach(function (a) { specs[a.type] = a; });
    var error = root.getAttribute("data-error") || "";
    var mode = root.querySelector("[data-editor-mode]");
    var conditionsText = root.querySelector("textarea[name=conditions]");
    var actionsText = root.querySelector("textarea[name=actions]");
    var rowsPane = root.querySelector("[data-rows-pane]");
    var jsonPane = root.querySelector("[data-json-pane]");
    var conditionsBox = root.querySelector("[data-conditions]");
    var actionsBox = root.querySelector("[data-actions]");
    var note = root.querySelector("[data-editor-note]");
    var counter = 0;

    function fieldSpec(name) {
      if (fields[name]) { return fields[name]; }
      if (name && name.indexOf(catalog.conditions.custom_field_prefix) === 0) {
        return { name: name, label: name, kind: "any", ops: catalog.conditions.custom_ops };
      }
      return null;
    }

    function marked(node, path) {
      if (error && (error === path || error.indexOf(path + ".") === 0)) {
        node.classList.add("invalid");
      }
      return node;
    }

    // -- condition rows ---------------------------------------------------------------------

    function valueInput(n, spec, shape, value) {
      var box = make("span", { className: "rule-value" });
      var name = "c-" + n + "-value";
      var label = S.value;
      if (shape === "none") { return box; }
      var values = Array.isArray(value) ? value : (value === undefined || value === null ? [] : [value]);
      if (spec.options && shape !== "pair") {
        if (shape === "one") {
          box.appendChild(options(make("select", { name: name, "aria-label": label }), spec.options, values[0], S.choose));
        } else {
          spec.options.forEach(function (o) {
            var box2 = make("input", { type: "checkbox", name: name, value: o.value });
            box2.checked = values.map(String).indexOf(String(o.value)) >= 0;
            box.appendChild(make("label", { className: "inline" }, [box2, document.createTextNode(" " + o.label)]));
          });
        }
        return box;
      }
      if (spec.kind === "category" && shape === "one") {
        var picker = make("select", { name: name, "aria-label": label, "data-level1": S.level1,
          "data-level2": S.level2, "data-level3": S.level3, "data-any-level": S.any_level });
        picker.id = "rule-cat-" + n;
        options(picker, catalog.categories.map(function (p) { return { value: p, label: p }; }), values[0], S.choose);
        Array.prototype.forEach.call(picker.options, function (o) { if (o.value) { o.setAttribute("data-path", o.value); } });
        box.appendChild(picker);
        if (window.kesuCategoryPicker) { window.kesuCategoryPicker(picker); }
        return box;
      }
      var type = spec.kind === "date" ? "date" : "text";
      var hint = { time: "HH:MM", month_day: "MM-DD", date: "YYYY-MM-DD" }[spec.kind] || "";
      if (shape === "pair") {
        box.appendChild(make("input", { type: type, name: name, value: values[0] === undefined ? "" : values[0], placeholder: hint, "aria-label": label }));
        box.appendChild(document.createTextNode(" – "));
        box.appendChild(make("input", { type: type, name: name, value: values[1] === undefined ? "" : values[1], placeholder: hint, "aria-label": label }));
        return box;
      }
      box.appendChild(make("input", {
        type: shape === "list" ? "text" : type, name: name, "aria-label": label,
        value: values.join(", "), placeholder: shape === "list" ? S.list_hint : hint,
      }));
      return box;
    }

    function leafRow(groupId, leaf, path) {
      var n = ++counter;
      var row = make("div", { className: "rule-row", "data-leaf": String(n) });
      var field = make("select", { name: "c-" + n + "-field", "aria-label": S.field });
      var known = catalog.conditions.fields.map(function (f) { return { value: f.name, label: f.label }; });
      if (leaf.field && !fields[leaf.field] && fieldSpec(leaf.field)) {
        known.push({ value: leaf.field, label: S.custom + " " + leaf.field });
      }
      options(field, known, leaf.field || "", S.choose);
      var op = make("select", { name: "c-" + n + "-op", "aria-label": S.op });
      var valueBox = make("span");
      var windowBox = make("span");
      function refresh(keepValue) {
        var spec = fieldSpec(field.value);
        op.textContent = "";
        valueBox.textContent = "";
        windowBox.textContent = "";
        if (!spec) { return; }
        options(op, spec.ops.map(function (o) { return { value: o, label: ops[o].label }; }),
          keepValue && spec.ops.indexOf(leaf.op) >= 0 ? leaf.op : spec.ops[0]);
        valueBox.appendChild(valueInput(n, spec, ops[op.value].value, keepValue ? leaf.value : undefined));
        if (spec.window_hours) {
          windowBox.appendChild(document.createTextNode(" " + S.and + " "));
          windowBox.appendChild(make("input", { type: "text", name: "c-" + n + "-window", size: 4,
            value: keepValue && leaf.window_hours ? leaf.window_hours : 24, "aria-label": S.hours }));
          windowBox.appendChild(document.createTextNode(" " + S.hours));
        }
      }
      field.addEventListener("change", function () { refresh(false); });
      op.addEventListener("change", function () {
        var spec = fieldSpec(field.value);
        var old = readValues(valueBox);
        valueBox.textContent = "";
        valueBox.appendChild(valueInput(n, spec, ops[op.value].value, old));
      });
      refresh(true);
      var remove = make("button", { type: "button", className: "small secondary", text: S.remove });
      remove.addEventListener("click", function () { row.remove(); });
      row.appendChild(make("input", { type: "hidden", name: "c-" + n + "-group", value: String(groupId) }));
      [field, op, valueBox, windowBox, remove].forEach(function (x) { row.appendChild(x); });
      return path ? marked(row, path) : row;
    }

    function readValues(box) {
      var found = [];
      box.querySelectorAll("input, select").forEach(function (input) {
        if (input.type === "checkbox") { if (input.checked) { found.push(input.value); } }
        else if (input.value) { found.push(input.value); }
      });
      return found;
    }

    function groupBox(id, group, path, nested) {
      var box = make("div", { className: nested ? "rule-group nested" : "rule-group", "data-group": String(id) });
      var match = options(make("select", { name: "cg-" + id + "-match", "aria-label": S.group }),
        [{ value: "all", label: S.all }, { value: "any", label: S.any }], group.match);
      var negate = make("input", { type: "checkbox", name: "cg-" + id + "-not" });
      negate.checked = !!group.not;
      var items = make("div", { className: "rule-items" });
      var head = make("div", { className: "rule-group-head" }, [
        match, make("label", { className: "inline" }, [negate, document.createTextNode(" " + S.not)]),
      ]);
      box.appendChild(head);
      box.appendChild(items);
      var inner = path + (group.not ? ".not" : "") + "." + group.match;
      group.items.forEach(function (item, i) {
        var where = inner + "[" + i + "]";
        if (item.items) { items.appendChild(groupBox(++counter, item, where, true)); }
        else { items.appendChild(leafRow(id, item, where)); }
      });
      var addLeaf = make("button", { type: "button", className: "small secondary", text: S.add_condition });
      addLeaf.addEventListener("click", function () { items.appendChild(leafRow(id, {}, "")); });
      var tools = make("div", { className: "rule-tools" }, [addLeaf]);
      if (!nested) {
        var addGroup = make("button", { type: "button", className: "small secondary", text: S.add_group });
        addGroup.addEventListener("click", function () {
          items.appendChild(groupBox(++counter, { match: "any", not: false, items: [{}] }, "", true));
        });
        tools.appendChild(addGroup);
      } else {
        var drop = make("button", { type: "button", className: "small secondary", text: S.remove });
        drop.addEventListener("click", function () { box.remove(); });
        head.appendChild(drop);
      }
      box.appendChild(tools);
      return box;
    }

    // The rows' model of a condition tree, or null when it nests deeper than the rows can.
    function model(tree, depth) {
      var negate = false;
      if (!tree || (typeof tree === "object" && !Array.isArray(tree) && Object.keys(tree).length === 0)) {
        return depth === 0 ? { match: "all", not: false, items: [] } : null;
      }
      if (typeof tree !== "object" || Array.isArray(tree)) { return null; }
      if (tree.not !== undefined && Object.keys(tree).length === 1) {
        negate = true;
        tree = tree.not;
        if (!tree || typeof tree !== "object") { return null; }
        if (tree.field !== undefined) { return { match: "all", not: true, items: [tree] }; }
      }
      var match = tree.all !== undefined ? "all" : tree.any !== undefined ? "any" : null;
      if (!match) {
        if (tree.field !== undefined && !negate) { return { match: "all", not: false, items: [tree] }; }
        return null;
      }
      if (!Array.isArray(tree[match]) || Object.keys(tree).length !== 1) { return null; }
      var items = [];
      for (var i = 0; i < tree[match].length; i += 1) {
        var item = tree[match][i];
        if (item && typeof item === "object" && item.field !== undefined) { items.push(item); continue; }
        if (depth > 0) { return null; }
        var sub = model(item, depth + 1);
        if (!sub) { return null; }
        items.push(sub);
      }
      return { match: match, not: negate, items: items };
    }

    // -- action rows ------------------------------------------------------------------------

    function paramInput(n, param, value) {
      var name = "a-" + n + "-" + param.name;
      var given = value !== undefined && value !== null;
      if (param.kind === "bool") {
        var box = make("input", { type: "checkbox", name: name });
        box.checked = given ? !!value : !!param["default"];
        return make("label", { className: "inline" }, [box, document.createTextNode(" " + param.label)]);
      }
      var input;
      if (param.kind === "enum" || param.kind === "team") {
        input = options(make("select", { name: name, "aria-label": param.label }),
          param.kind === "team" ? catalog.teams : param.options,
          given ? value : (param["default"] === null ? "" : param["default"]),
          param.required && param.kind === "enum" ? undefined : S.choose);
      } else {
        input = make("input", { type: "text", name: name, "aria-label": param.label,
          value: given ? (Array.isArray(value) ? value.join(", ") : value) : "",
          placeholder: param.kind === "list" ? S.list_hint : "" });
      }
      return make("label", { className: "rule-param" }, [document.createTextNode(param.label + " "), input]);
    }

    function actionRow(action, path) {
      var n = ++counter;
      var row = make("div", { className: "rule-row action", "data-action": String(n) });
      var type = options(make("select", { name: "a-" + n + "-type", "aria-label": S.field }),
        catalog.actions.map(function (a) { return { value: a.type, label: a.label }; }), action.type || "", S.choose);
      var params = make("span", { className: "rule-params" });
      function refresh(keep) {
        params.textContent = "";
        var spec = specs[type.value];
        if (!spec) { return; }
        spec.params.forEach(function (param) {
          params.appendChild(paramInput(n, param, keep ? action[param.name] : undefined));
        });
      }
      type.addEventListener("change", function () { refresh(false); });
      refresh(true);
      var remove = make("button", { type: "button", className: "small secondary", text: S.remove });
      remove.addEventListener("click", function () { row.remove(); });
      [type, params, remove].forEach(function (x) { row.appendChild(x); });
      return path ? marked(row, path) : row;
    }

    // -- rows → JSON (for the JSON view; the server does the same with the posted rows) ----

    var SPLIT = /[,，、\n]/;
    function typed(kind, text) {
      return (kind === "number" || kind === "any") && /^-?\d{1,15}(\.\d{1,6})?$/.test(text) ? Number(text) : text;
    }
    function leafJson(row) {
      var n = row.getAttribute("data-leaf");
      var get = function (suffix) {
        var input = row.querySelector('[name="c-' + n + '-' + suffix + '"]');
        return input ? input.value.trim() : "";
      };
      var leaf = { field: get("field"), op: get("op") };
      var spec = fieldSpec(leaf.field) || { kind: "text" };
      var shape = ops[leaf.op] ? ops[leaf.op].value : "one";
      var raw = [];
      row.querySelectorAll('[name="c-' + n + '-value"]').forEach(function (input) {
        if (input.type === "checkbox" && !input.checked) { return; }
        if (input.value.trim()) { raw.push(input.value.trim()); }
      });
      if (shape === "list" || shape === "pair") {
        var items = [];
        raw.forEach(function (v) { v.split(SPLIT).forEach(function (p) { if (p.trim()) { items.push(p.trim()); } }); });
        leaf.value = items.map(function (v) { return typed(spec.kind, v); });
      } else if (shape === "one") {
        leaf.value = raw.length ? typed(spec.kind, raw[0]) : null;
      }
      if (leaf.field === "same_category_count") {
        var w = get("window");
        leaf.window_hours = /^\d+$/.test(w) ? Number(w) : w;
      }
      return leaf;
    }
    function groupJson(box, top) {
      var id = box.getAttribute("data-group");
      var match = box.querySelector('[name="cg-' + id + '-match"]').value === "any" ? "any" : "all";
      var negate = box.querySelector('[name="cg-' + id + '-not"]').checked;
      var items = [];
      Array.prototype.forEach.call(box.querySelector(".rule-items").children, function (child) {
        items.push(child.hasAttribute("data-group") ? groupJson(child, false) : leafJson(child));
      });
      if (top && !items.length && !negate) { return {}; }
      var body = {};
      body[match] = items;
      return negate ? { not: body } : body;
    }
    function actionJson(row) {
      var n = row.getAttribute("data-action");
      var kind = row.querySelector('[name="a-' + n + '-type"]').value;
      var action = { type: kind };
      ((specs[kind] || {}).params || []).forEach(function (param) {
        var input = row.querySelector('[name="a-' + n + '-' + param.name + '"]');
        if (!input) { return; }
        if (param.kind === "bool") { action[param.name] = input.checked; return; }
        var value = input.value.trim();
        if (!value) { return; }
        if (param.kind === "list") {
          action[param.name] = value.split(SPLIT).map(function (p) { return p.trim(); }).filter(Boolean);
        } else if (param.kind === "number") {
          action[param.name] = /^-?\d{1,15}$/.test(value) ? Number(value) : value;
        } else { action[param.name] = value; }
      });
      return action;
    }

    // -- the two views ----------------------------------------------------------------------

    function buildRows() {
      var tree, list;
      try {
        tree = JSON.parse(conditionsText.value.trim() || "{}");
        list = JSON.parse(actionsText.value.trim() || "[]");
      } catch (e) {
        return S.bad_json;
      }
      var top = model(tree, 0);
      if (!top || !Array.isArray(list)) { return S.too_complex; }
      counter = 0;
      conditionsBox.textContent = "";
      actionsBox.textContent = "";
      conditionsBox.appendChild(groupBox(0, top, "conditions", false));
      var actionItems = make("div", { className: "rule-items" });
      list.forEach(function (action, i) {
        actionItems.appendChild(actionRow(action && typeof action === "object" ? action : {}, "actions[" + i + "]"));
      });
      var add = make("button", { type: "button", className: "small secondary", text: S.add_action });
      add.addEventListener("click", function () { actionItems.appendChild(actionRow({ type: "assign" }, "")); });
      actionsBox.appendChild(actionItems);
      actionsBox.appendChild(make("div", { className: "rule-tools" }, [add]));
      return "";
    }

    function writeJson() {
      var top = conditionsBox.querySelector("[data-group]");
      if (!top) { return; }
      conditionsText.value = JSON.stringify(groupJson(top, true), null, 1);
      var rows = actionsBox.querySelectorAll("[data-action]");
      actionsText.value = JSON.stringify(Array.prototype.map.call(rows, actionJson), null, 1);
    }

    function show(which) {
      if (which === "rows") {
        var problem = buildRows();
        if (problem) { note.textContent = problem; which = "json"; }
        else { note.textContent = ""; }
      } else if (mode.value === "rows") {
        writeJson();
        note.textContent = "";
      }
      mode.value = which;
      rowsPane.hidden = which !== "rows";
      jsonPane.hidden = which === "rows";
      // the rows are posted only in the rows view: in the JSON view they are left out
      rowsPane.querySelectorAll("input, select").forEach(function (input) { input.disabled = which !== "rows"; });
      root.querySelectorAll("[data-show]").forEach(function (button) {
        button.classList.toggle("on", button.getAttribute("data-show") === which);
        button.setAttribute("aria-pressed", String(button.getAttribute("data-show") === which));
      });
    }

    root.querySelectorAll("[data-show]").forEach(function (button) {
      button.addEventListener("click", function () { show(button.getAttribute("data-show")); });
    });
    var form = root.closest("form");
    if (form) {
      form.addEventListener("submit", function () { if (mode.value === "rows") { writeJson(); } }, true);
    }
    root.querySelector("[data-editor-switch]").hidden = false;
    mode.value = "json";
    show(root.getAttribute("data-mode") === "json" ? "json" : "rows");
  }

  document.querySelectorAll("[data-rule-editor]").forEach(init);
})();
