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
