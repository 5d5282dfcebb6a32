// The caller look-up of the agent's entry form (/complaints/new): as the phone number is
// typed, GET /api/v1/customers/lookup (debounced) and show the customer with their earlier
// complaints; "use this customer" fills the name (and email, tier when empty). Texts come
// from the page's data-t-* attributes (zh/en); the DOM is built with textContent only.
(function () {
  "use strict";
  var input = document.querySelector("input[data-lookup]");
  var panel = document.getElementById("caller-lookup");
  if (!input || !panel) return;
  var MIN_DIGITS = 7;
  var DELAY_MS = 300;
  var timer = null;
  var asked = "";
  var controller = null;

  function digitsOf(text) { return text.replace(/[^0-9]/g, ""); }

  function t(key) { return panel.getAttribute("data-t-" + key) || ""; }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function when(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  function fill(customer) {
    // the number as the customer record has it, so the complaint links to that customer
    if (customer.exact && customer.phone && customer.phone.indexOf("*") < 0) {
      input.value = customer.phone;
      asked = customer.phone.replace(/[^0-9]/g, "");
    }
    var name = document.getElementById("f-name");
    if (name) name.value = customer.name || "";
    var email = document.getElementById("f-email");
    if (email && !email.value && customer.email && customer.email.indexOf("*") < 0) {
      email.value = customer.email;
    }
    var tier = document.getElementById("f-tier");
    if (tier && customer.tier) tier.value = customer.tier;
  }

  function show(data) {
    panel.textContent = "";
    panel.hidden = false;
    if (!data.customers.length) {
      panel.appendChild(el("p", { "class": "muted", id: "lookup-none" }, t("none")));
      return;
    }
    data.customers.forEach(function (c) {
      var box = el("div", { "class": "lookup-customer", "data-customer": c.id });
      var head = el("p");
      head.appendChild(el("strong", {}, t("found") + "："));
      head.appendChild(el("a", { href: "/customers/" + c.id, "class": "lookup-name" }, c.name));
      head.appendChild(document.createTextNode(" " + (c.phone || "")));
      var use = el("button", { type: "button", "class": "secondary small lookup-fill" }, t("fill"));
      use.addEventListener("click", function () { fill(c); });
      head.appendChild(document.createTextNode(" "));
      head.appendChild(use);
      box.appendChild(head);
      if (!c.complaints.length) {
        box.appendChild(el("p", { "class": "muted" }, t("nothing")));
      } else {
        box.appendChild(el("p", { "class": "muted" }, t("earlier")));
        var list = el("ul", { "class": "lookup-complaints" });
        c.complaints.forEach(function (k) {
          var item = el("li");
          item.appendChild(el("a", { href: k.url, target: "_blank", rel: "noopener" }, k.number));
          item.appendChild(document.createTextNode(" " + k.title + " · " + k.stage_name +
            " · " + (k.is_open ? t("open") : t("closed")) + " · " + when(k.received_at)));
          list.appendChild(item);
        });
        box.appendChild(list);
        if (c.more) box.appendChild(el("p", { "class": "muted" }, t("more")));
      }
      panel.appendChild(box);
    });
    var name = document.getElementById("f-name");
    var exact = data.customers.filter(function (c) { return c.exact; });
    if (exact.length === 1 && name && !name.value) fill(exact[0]);
  }

  function ask() {
    var digits = input.value.replace(/[^0-9]/g, "");
    if (digits.length < MIN_DIGITS) {
      asked = "";
      panel.hidden = true;
      panel.textContent = "";
      return;
    }
    if (digits === asked) return;
    asked = digits;
    if (controller) controller.abort();
    controller = window.AbortController ? new AbortController() : null;
    var url = input.getAttribute("data-lookup") + "?phone=" + encodeURIComponent(digits);
    fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (data) {
      if (data.phone === digitsOf(input.value)) show(data);
    }).catch(function (error) {
      if (error && error.name === "AbortError") return;
      asked = "";
      panel.hidden = false;
      panel.textContent = "";
      panel.appendChild(el("p", { "class": "muted" }, t("error")));
    });
  }

  input.addEventListener("input", function () {
    if (timer) clearTimeout(timer);
    timer = setTimeout(ask, DELAY_MS);
  });
  if (input.value) ask();
})();
