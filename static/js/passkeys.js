// Passkeys: the glue around django-otp-webauthn's scripts, which read their
// URLs from the page's #otp_webauthn_config (ours) and run the ceremonies.
// Loaded (deferred) before them, so their gettext exists when they run.
(function () {
  "use strict";

  // Their words are English already; no translation catalogue is served.
  window.gettext = window.gettext || function (text) { return text; };

  // A passkey added: the server says where to go next (the new recovery
  // codes for a first factor, else the account page and its message).
  document.addEventListener("otp_webauthn.register_complete", function (event) {
    var answer = (event.detail && event.detail.response) || {};
    window.location.assign(answer.redirect_url || window.location.href);
  });

  // A passkey used to re-authenticate stands in for the code: send the
  // form, which brings the password with it. (At the code step the
  // server's redirect_url signs the user in instead.)
  document.addEventListener("otp_webauthn.verification_complete", function () {
    var form = document.querySelector("form[data-passkey-reauth]");
    if (form) { form.requestSubmit(); }
  });
})();
