// Handover's theme (dark mode), loaded in <head> so a page never flashes
// the wrong colours: the system's choice unless the person picked one,
// kept in localStorage under "theme" -- the key Django admin's own toggle
// uses, so both follow the same choice. The picker ([data-theme-choice], a
// select with auto / light / dark) appears only with JavaScript.
(function () {
  "use strict";
  var KEY = "theme";
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "auto";
    } catch (e) {
      return "auto";
    }
  }
  function apply(choice) {
    var dark = choice === "dark" || (choice === "auto" && !!(media && media.matches));
    document.documentElement.setAttribute("data-bs-theme", dark ? "dark" : "light");
  }
  apply(stored());
  if (media && media.addEventListener) {
    media.addEventListener("change", function () { apply(stored()); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-theme-choice]").forEach(function (select) {
      select.value = stored();
      var wrapper = select.closest("[data-theme-picker]");
      if (wrapper) wrapper.hidden = false;
    });
  });
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.hasAttribute || !select.hasAttribute("data-theme-choice")) return;
    try {
      if (select.value === "auto") window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, select.value);
    } catch (e) { /* private mode: the choice lasts for this page */ }
    apply(select.value);
  });
})();
