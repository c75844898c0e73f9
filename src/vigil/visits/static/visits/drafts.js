/* Drafts of long forms (interview notes, a finding, the debriefing): what the person types is
 * kept in this browser (localStorage) and on the server as they type, so a dropped connection
 * or a closed tab loses nothing. The page says "Saved at 14:02"; opening the form again offers
 * the draft; saving the form deletes it (the server does, and this script forgets its copy
 * once the server no longer has one).
 *
 * <form data-draft-url="/visits/12/draft/" data-draft-key="interview"
 *       data-draft-owner="7" data-draft-status="draft-status"> with the texts of the status
 * element's data-text-* attributes (translated by the page). Never kept: the CSRF token, the
 * record's version, an identity, passwords and files.
 */
(function () {
  "use strict";

  var DELAY_MS = 1000;
  var SKIPPED = { csrfmiddlewaretoken: true, version: true, identity: true };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function kept(element) {
    if (!element.name || SKIPPED[element.name] || element.disabled) {
      return false;
    }
    var type = (element.type || "").toLowerCase();
    return type !== "password" && type !== "file" && type !== "hidden" && type !== "submit" &&
      type !== "button";
  }

  function collect(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!kept(element)) {
        return;
      }
      var type = (element.type || "").toLowerCase();
      var values = data[element.name] || [];
      if (type === "checkbox" || type === "radio") {
        if (element.checked) {
          values.push(element.value);
        }
      } else if (element.tagName === "SELECT" && element.multiple) {
        Array.prototype.forEach.call(element.selectedOptions, function (option) {
          values.push(option.value);
        });
      } else {
        values.push(element.value);
      }
      data[element.name] = values;
    });
    return data;
  }

  function asList(value) {
    if (value === null || value === undefined) {
      return [];
    }
    return Array.isArray(value) ? value.map(String) : [String(value)];
  }

  function fill(form, data) {
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!kept(element) || !(element.name in data)) {
        return;
      }
      var values = asList(data[element.name]);
      var type = (element.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        element.checked = values.indexOf(element.value) !== -1;
      } else if (element.tagName === "SELECT" && element.multiple) {
        Array.prototype.forEach.call(element.options, function (option) {
          option.selected = values.indexOf(option.value) !== -1;
        });
      } else {
        element.value = values.length ? values[0] : "";
      }
    });
  }

  function same(form, data) {
    var now = collect(form);
    return Object.keys(data).every(function (name) {
      return asList(now[name]).join("\u0000") === asList(data[name]).join("\u0000");
    });
  }

  function clock(date) {
    var hours = String(date.getHours()).padStart(2, "0");
    var minutes = String(date.getMinutes()).padStart(2, "0");
    return hours + ":" + minutes;
  }

  function init(form) {
    var url = form.getAttribute("data-draft-url");
    var key = form.getAttribute("data-draft-key");
    var status = document.getElementById(form.getAttribute("data-draft-status"));
    if (!url || !key || !status || !window.fetch) {
      return;
    }
    var storageKey = "vigil-draft:" + form.getAttribute("data-draft-owner") + ":" + url + ":" + key;
    var offer = document.getElementById(status.getAttribute("data-offer"));
    var timer = null;
    var lastSent = null;

    function say(template, time) {
      status.textContent = template.replace("%(time)s", time);
    }

    function readLocal() {
      try {
        return JSON.parse(window.localStorage.getItem(storageKey) || "null");
      } catch (error) {
        return null;
      }
    }

    function writeLocal(entry) {
      try {
        window.localStorage.setItem(storageKey, JSON.stringify(entry));
      } catch (error) {
        // Storage full or refused (private browsing): the server copy still counts.
      }
    }

    function forgetLocal() {
      try {
        window.localStorage.removeItem(storageKey);
      } catch (error) {
        // Nothing kept here.
      }
    }

    function save() {
      timer = null;
      var data = collect(form);
      var body = JSON.stringify(data);
      if (body === lastSent) {
        return;
      }
      var savedAt = new Date();
      writeLocal({ data: data, savedAt: savedAt.toISOString() });
      var payload = new URLSearchParams();
      payload.append("form", key);
      Object.keys(data).forEach(function (name) {
        data[name].forEach(function (value) {
          payload.append(name, value);
        });
      });
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
        body: payload
      }).then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      }).then(function (answer) {
        lastSent = body;
        say(status.getAttribute("data-text-saved"), answer.saved_at_display || clock(savedAt));
      }).catch(function () {
        say(status.getAttribute("data-text-local"), clock(savedAt));
      });
    }

    function schedule() {
      if (timer !== null) {
        window.clearTimeout(timer);
      }
      timer = window.setTimeout(save, DELAY_MS);
    }

    function showOffer(draft, savedAt) {
      if (!offer || same(form, draft)) {
        return;
      }
      var text = offer.querySelector("[data-offer-text]");
      text.textContent = offer.getAttribute("data-text-offer").replace(
        "%(time)s", clock(new Date(savedAt))
      );
      offer.hidden = false;
      offer.querySelector("[data-draft-restore]").addEventListener("click", function () {
        fill(form, draft);
        offer.hidden = true;
        say(status.getAttribute("data-text-restored"), clock(new Date(savedAt)));
        var first = form.querySelector("textarea, input:not([type=hidden]), select");
        if (first) {
          first.focus();
        }
      });
      offer.querySelector("[data-draft-discard]").addEventListener("click", function () {
        offer.hidden = true;
        forgetLocal();
        fetch(url + "?form=" + encodeURIComponent(key), {
          method: "DELETE",
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken() }
        }).catch(function () { /* the next save replaces it */ });
        status.textContent = "";
      });
    }

    // What is kept: the newest of the server's copy and this browser's.
    var local = readLocal();
    fetch(url + "?form=" + encodeURIComponent(key), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (answer) {
        if (!answer.draft) {
          // No draft on the server: the form was saved (or the draft discarded) since this
          // browser kept its copy, unless the copy was never sent.
          if (local && local.submittedAt) {
            forgetLocal();
          } else if (local) {
            showOffer(local.data, local.savedAt);
          }
          return;
        }
        if (local && !local.submittedAt && local.savedAt > answer.saved_at) {
          showOffer(local.data, local.savedAt);
        } else {
          showOffer(answer.draft, answer.saved_at);
        }
      })
      .catch(function () {
        if (local) {
          showOffer(local.data, local.savedAt);
        }
      });

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    form.addEventListener("submit", function () {
      if (timer !== null) {
        window.clearTimeout(timer);
        timer = null;
      }
      var entry = readLocal() || { data: collect(form), savedAt: new Date().toISOString() };
      entry.data = collect(form);
      entry.submittedAt = new Date().toISOString();
      writeLocal(entry);
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-key]"), init);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
