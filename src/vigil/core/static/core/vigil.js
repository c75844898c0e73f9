/* Vigil progressive enhancements. Every page works without this file; it only saves clicks.
 *
 * - <form data-confirm="Text"> (or a submit button with data-confirm) asks before submitting.
 * - Choosing a language or a body takes effect with its form's visible button, never on change
 *   of the list (WCAG 3.2.2, on input: a setting does not move the person to another page).
 * - htmx requests to this site carry the CSRF token from <meta name="csrf-token" content="...">.
 */
(function () {
  "use strict";

  // Capture phase, so a cancelled confirm also stops htmx's own submit handler on the form.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) ||
      (form.getAttribute && form.getAttribute("data-confirm"));
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta && meta.getAttribute("content");
    if (!token) {
      return;
    }
    // Never hand the token to another origin.
    var target;
    try {
      target = new URL(event.detail.path, window.location.href);
    } catch (error) {
      return;
    }
    if (target.origin === window.location.origin) {
      event.detail.headers["X-CSRFToken"] = token;
    }
  });
})();
