// Handover: small progressive enhancements. Every page works without this.
(function () {
  "use strict";

  // Forms with data-confirm ask before submitting (destructive actions also
  // have a server-side confirmation step when JavaScript is off).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // "Select all" checkboxes: <input type="checkbox" data-select-all="name">
  document.addEventListener("change", function (event) {
    var box = event.target;
    var name = box.getAttribute && box.getAttribute("data-select-all");
    if (!name) return;
    document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (el) {
      el.checked = box.checked;
    });
  });

  // Copy buttons that need the clipboard (.copy-button, hidden in the
  // markup) appear where there is one, in swapped-in content too.
  function revealCopyButtons(root) {
    if (!root.querySelectorAll) return;
    // The users list's Peek buttons need only htmx (the name links to the page).
    root.querySelectorAll(".peek-button[hidden]").forEach(function (b) { b.hidden = false; });
    if (!navigator.clipboard) return;
    root.querySelectorAll(".copy-button[hidden]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("htmx:load", function (event) { revealCopyButtons(event.detail.elt); });
  revealCopyButtons(document);

  // Copy buttons: <button data-copy="#element-id">
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.value || source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
})();

// Fragments that load in the background (the sidebar's saved views, the
// palette's results: [data-background-fragment]) never move the page. When
// the server answers one with HX-Redirect -- a session that must first set
// up a second factor or change its password -- the page the person is on
// already says where to go, and following it would leave that page with a
// fragment's address as "next".
(function () {
  "use strict";
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var elt = event.detail && event.detail.elt;
    var xhr = event.detail && event.detail.xhr;
    if (!elt || !xhr || !elt.closest || !elt.closest("[data-background-fragment]")) return;
    if (xhr.getResponseHeader("HX-Redirect")) event.preventDefault();
  });
})();

// Confirmation dialogs (area USERS): an hx-get into #modal-root brings a
// Bootstrap modal; show it, and drop it from the page once closed.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.detail && event.detail.target;
    if (!root || root.id !== "modal-root" || !window.bootstrap) return;
    var modal = root.querySelector(".modal");
    if (!modal) return;
    modal.addEventListener("hidden.bs.modal", function () { root.innerHTML = ""; });
    window.bootstrap.Modal.getOrCreateInstance(modal).show();
  });
})();

// A dialog's action is done (the server sent HX-Trigger: handover:modal-close
// along with the refreshed sections): close the open dialog.
(function () {
  "use strict";
  document.addEventListener("handover:modal-close", function () {
    var modal = document.querySelector("#modal-root .modal");
    if (modal && window.bootstrap) window.bootstrap.Modal.getOrCreateInstance(modal).hide();
  });
})();

// A request the server could not serve in time answers 503 "busy, retry"
// (a lock or statement timeout; nothing was changed). htmx does not swap
// error answers, so show the page's message where messages go.
(function () {
  "use strict";
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail && event.detail.xhr;
    // Inside the open dialog if there is one (the page behind is covered).
    var box = document.querySelector("#modal-root .modal.show .modal-body") ||
      document.getElementById("messages");
    if (!xhr || xhr.status !== 503 || !box) return;
    var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var text = page.querySelector("main p");
    var alert = document.createElement("div");
    alert.className = "alert alert-warning alert-dismissible fade show";
    alert.setAttribute("role", "alert");
    alert.textContent = text ? text.textContent : "The server is busy; please try again.";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    alert.appendChild(close);
    box.insertBefore(alert, box.firstChild);
  });
})();

// The users list's batch bar (area USERS): shown only while rows are ticked,
// with "3 selected"; the role choice only for the role actions. Without
// JavaScript the bar is always there and the server checks the same things.
(function () {
  "use strict";
  function sync() {
    var bar = document.querySelector("[data-batch-bar]");
    if (!bar) return;
    var form = bar.closest("form");
    var ticked = form.querySelectorAll('input[name="ids"]:checked').length;
    var all = form.querySelector('input[name="all_matching"]');
    var everyone = !!(all && all.checked);
    bar.hidden = ticked === 0 && !everyone;
    var label = bar.querySelector("[data-selected-label]");
    label.textContent = everyone ? label.getAttribute("data-all-text") : ticked + " selected";
    var action = bar.querySelector('select[name="action"]');
    var option = action.options[action.selectedIndex];
    var roleChoice = bar.querySelector("[data-role-choice]");
    var needsRole = !!(option && option.hasAttribute("data-needs-role"));
    roleChoice.hidden = !needsRole;
    roleChoice.querySelector("select").disabled = !needsRole;
  }
  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#batch-form")) sync();
  });
  document.addEventListener("htmx:afterSwap", sync);
  document.addEventListener("DOMContentLoaded", sync);
  sync();
})();

// Closing a dialog returns focus to what opened it (WCAG 2.4.3): the link or
// button whose hx-get filled #modal-root, or, when that sat in a dropdown
// that has closed since, the dropdown's toggle.
(function () {
  "use strict";
  var opener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "modal-root") opener = event.detail.elt;
  });
  // (The dialog has already left the page when this runs: the listener
  // above empties #modal-root first.)
  document.addEventListener("hidden.bs.modal", function () {
    var back = opener;
    opener = null;
    if (!back) return;
    if (!document.body.contains(back)) {
      // Swapped out by the action's refresh: the same control if it is still
      // offered, else the first action in the refreshed header, else main.
      var url = back.getAttribute("hx-get");
      back = (url && document.querySelector('[hx-get="' + CSS.escape(url) + '"]')) ||
        document.querySelector("#user-header .user-actions a, #user-header .user-actions button") ||
        document.getElementById("main");
    }
    if (back && back.offsetParent === null) {
      var menu = back.closest(".dropdown");
      back = (menu && menu.querySelector("[data-bs-toggle=dropdown]")) || back;
    }
    if (back && back.focus) back.focus();
  });
})();

// Fields shown only for some values of another field:
// <input data-show-for="duration=hours days" data-label-hours="Number of hours">
// The ban dialog shows the number for "hours"/"days", the date for "until".
(function () {
  "use strict";
  function apply(form) {
    form.querySelectorAll("[data-show-for]").forEach(function (input) {
      var rule = input.getAttribute("data-show-for").split("=");
      // A select, or a group of radio buttons (whose value is the checked one's).
      var control = form.elements.namedItem(rule[0]);
      if (!control) return;
      var show = rule[1].split(" ").indexOf(control.value) !== -1;
      var wrapper = input.closest(".mb-3") || input;
      wrapper.hidden = !show;
      input.disabled = !show;
      var label = form.querySelector('label[for="' + input.id + '"]');
      var text = input.getAttribute("data-label-" + control.value);
      if (label && text) label.textContent = text;
    });
  }
  function scan(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-show-for]")) apply(form);
    });
    if (root.matches && root.matches("form") && root.querySelector("[data-show-for]")) apply(root);
  }
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.querySelector("[data-show-for]")) apply(form);
  });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
  scan(document);
})();

// A new role's slug field shows the slug its name will give
// (<input data-slug-from="name">); the server makes the same one.
(function () {
  "use strict";
  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^\w\s-]/g, "").trim().replace(/[\s_-]+/g, "-").replace(/^-+|-+$/g, "");
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (!form) return;
    form.querySelectorAll("[data-slug-from]").forEach(function (slug) {
      if (event.target.name === slug.getAttribute("data-slug-from")) {
        slug.placeholder = slugify(event.target.value);
      }
    });
  });
})();

// The command palette (Ctrl+K or Cmd+K on any page, or the sidebar button):
// a dialog that searches users, saved views and pages as you type (the
// server sends only what this person may open or do). It is a combobox
// (WAI-ARIA 1.2): focus stays in the input, the arrow keys move the active
// option (aria-activedescendant), Enter opens it (the first one when none
// is chosen), Esc closes the dialog. Without JavaScript the button is a
// link to the users list.
(function () {
  "use strict";
  var dialog = document.getElementById("jump-dialog");
  if (!dialog || !window.bootstrap) return;
  var input = dialog.querySelector("#jump-q");
  var before = null;
  var active = -1;
  function options() {
    return Array.prototype.slice.call(dialog.querySelectorAll('[role="option"]'));
  }
  function choose(index) {
    var all = options();
    all.forEach(function (o) { o.setAttribute("aria-selected", "false"); o.classList.remove("active"); });
    active = index;
    if (index < 0 || index >= all.length) {
      active = -1;
      input.removeAttribute("aria-activedescendant");
      return;
    }
    var option = all[index];
    option.setAttribute("aria-selected", "true");
    option.classList.add("active");
    input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }
  function open() {
    before = document.activeElement;
    window.bootstrap.Modal.getOrCreateInstance(dialog).show();
  }
  dialog.addEventListener("shown.bs.modal", function () { input.focus(); input.select(); });
  dialog.addEventListener("hidden.bs.modal", function () {
    if (before && document.body.contains(before) && before.focus) before.focus();
    before = null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail || event.detail.target.id !== "jump-results") return;
    active = -1;
    input.removeAttribute("aria-activedescendant");
    input.setAttribute("aria-expanded", options().length ? "true" : "false");
  });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      open();
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-jump-open]");
    if (!button) return;
    event.preventDefault();
    open();
  });
  dialog.querySelector("[data-jump-form]").addEventListener("submit", function (event) {
    var all = options();
    var chosen = all[active] || all[0];
    if (chosen) {
      event.preventDefault();
      chosen.click();
    }
  });
  input.addEventListener("keydown", function (event) {
    var all = options();
    if (!all.length) return;
    var next = null;
    if (event.key === "ArrowDown") next = active + 1 >= all.length ? 0 : active + 1;
    else if (event.key === "ArrowUp") next = active <= 0 ? all.length - 1 : active - 1;
    else if (event.key === "Home" && event.ctrlKey) next = 0;
    else if (event.key === "End" && event.ctrlKey) next = all.length - 1;
    if (next === null) return;
    event.preventDefault();
    choose(next);
  });
  dialog.addEventListener("mousemove", function (event) {
    var option = event.target.closest && event.target.closest('[role="option"]');
    if (option) choose(options().indexOf(option));
  });
})();

// The user page opened from the palette at #action-<name> (ban, disable,
// ...): click the page's own button for that action, so the palette runs
// it through the same dialog as the page; the address loses the fragment,
// so a reload does not open it again.
(function () {
  "use strict";
  var match = /^#action-([a-z-]+)$/.exec(window.location.hash);
  if (!match) return;
  function run() {
    var control = document.querySelector('#user-header [data-action="' + match[1] + '"]');
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    if (!control) return;
    // htmx is loaded with "defer" and may not have set the page up yet.
    if (window.htmx) window.htmx.process(control);
    control.click();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
