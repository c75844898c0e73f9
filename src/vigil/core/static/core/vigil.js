/* Vigil progressive enhancements. Every page works without this file; it only saves clicks.
 *
 * - <form data-confirm="Text"> (or a submit button with data-confirm) asks before submitting.
 * - Choosing a language or a body takes effect with its form's visible button, never on change
 *   of the list (WCAG 3.2.2, on input: a setting does not move the person to another page).
 * - <input type="number" min max data-range-message="Text">: a value outside the range shows
 *   the text beside the field when the person leaves it (forms are `novalidate`, so the server's
 *   message, in the same words, is the one that counts on submit).
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

  function showRangeError(input) {
    var message = input.getAttribute("data-range-message");
    var id = input.id + "_range_error";
    var shown = document.getElementById(id);
    var outside = input.validity.rangeUnderflow || input.validity.rangeOverflow;
    var described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (outside && !shown) {
      // The server may have said the same already, for the value the page was sent with.
      var row = input.closest(".form-row") || input.parentNode;
      var said = Array.prototype.some.call(row.querySelectorAll(".errorlist li"), function (item) {
        return item.textContent.indexOf(message) !== -1;
      });
      if (said) {
        return;
      }
      shown = document.createElement("p");
      shown.id = id;
      shown.className = "errorlist";
      shown.setAttribute("role", "alert");
      shown.textContent = message;
      input.insertAdjacentElement("afterend", shown);
      input.setAttribute("aria-describedby", described.concat(id).join(" "));
      input.setAttribute("aria-invalid", "true");
    } else if (!outside && shown) {
      shown.remove();
      described = described.filter(function (each) { return each !== id; });
      if (described.length) {
        input.setAttribute("aria-describedby", described.join(" "));
      } else {
        input.removeAttribute("aria-describedby");
      }
      if (!input.closest(".field-error")) {
        input.removeAttribute("aria-invalid");
      }
    }
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input[data-range-message]") && input.id) {
      showRangeError(input);
    }
  });

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
