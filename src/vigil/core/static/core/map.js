/* Vigil place maps: plots places of detention on a Leaflet map.
 *
 * Markup (attributes are all optional except a data source):
 *   <div class="map" data-points-url="/places/map.json"
 *        data-tiles-url="https://tiles.example/{z}/{x}/{y}.png" data-tiles-attribution="..."
 *        data-tiles-failed-message="..." data-no-tiles-message="..." data-empty-message="..."
 *        data-error-message="...">
 *     <script type="application/json" class="map-data">[{"id":1,"name":"...","lat":..,"lng":..,
 *       "url":"/places/1/","type":"Prison","status":"open"}]</script>
 *   </div>
 *   <p class="map-note" role="status"></p>
 *
 * Monitors often work offline or behind filtering networks, so tiles are optional: without them,
 * or once one fails, the points stay on a plain background and .map-note says why.
 * Data never goes through innerHTML: popups are built from DOM nodes.
 * Browser tests wait on data-ready="true" (points plotted) and data-tiles-state="failed".
 */
(function () {
  "use strict";

  var STATUS_COLOURS = { open: "#1d4e6b", temporary: "#7a4a00", closed: "#4a525a" };

  function findNote(mapEl) {
    var note = mapEl.querySelector(".map-note");
    if (note) {
      // Leaflet's panes would cover a note left inside the map container.
      mapEl.insertAdjacentElement("afterend", note);
    } else {
      // The first .map-note after this map, but never one that belongs to a later map.
      var sibling = mapEl.nextElementSibling;
      while (sibling && !sibling.classList.contains("map-note") && !sibling.classList.contains("map")) {
        sibling = sibling.nextElementSibling;
      }
      note = sibling && sibling.classList.contains("map-note") ? sibling : null;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "map-note";
      mapEl.insertAdjacentElement("afterend", note);
    }
    note.setAttribute("role", "status");
    return note;
  }

  function showNote(mapEl, attribute) {
    var text = mapEl.getAttribute(attribute);
    if (text) {
      findNote(mapEl).textContent = text;
    }
  }

  function safeUrl(value) {
    // Only http(s) links, so a stored "javascript:" URL can never run.
    if (typeof value !== "string" || value === "") {
      return null;
    }
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? value : null;
    } catch (error) {
      return null;
    }
  }

  function cleanPoints(data) {
    var list = Array.isArray(data) ? data : (data && Array.isArray(data.points) ? data.points : []);
    var points = [];
    list.forEach(function (item) {
      if (!item) {
        return;
      }
      var lat = parseFloat(item.lat);
      var lng = parseFloat(item.lng);
      if (isFinite(lat) && isFinite(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) {
        points.push({
          name: item.name == null ? "" : String(item.name),
          lat: lat,
          lng: lng,
          url: safeUrl(item.url),
          type: item.type == null ? "" : String(item.type),
          status: item.status == null ? "" : String(item.status),
          statusLabel: item.status_label == null ? "" : String(item.status_label)
        });
      }
    });
    return points;
  }

  function popupContent(point) {
    var box = document.createElement("div");
    var title = document.createElement(point.url ? "a" : "strong");
    title.textContent = point.name;
    if (point.url) {
      title.href = point.url;
    }
    box.appendChild(title);
    var details = [point.type, point.statusLabel].filter(Boolean).join(" \u00b7 ");
    if (details) {
      var line = document.createElement("div");
      line.className = "muted";
      line.textContent = details;
      box.appendChild(line);
    }
    return box;
  }

  function escapeText(text) {
    // Leaflet renders attribution as HTML; the attribute is plain text, so escape it.
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function addTiles(mapEl, map) {
    var tilesUrl = (mapEl.getAttribute("data-tiles-url") || "").trim();
    if (!tilesUrl) {
      mapEl.setAttribute("data-tiles-state", "none");
      showNote(mapEl, "data-no-tiles-message");
      return;
    }
    var tiles = L.tileLayer(tilesUrl, {
      attribution: escapeText(mapEl.getAttribute("data-tiles-attribution") || ""),
      maxZoom: 19
    });
    mapEl.setAttribute("data-tiles-state", "loading");
    tiles.once("tileerror", function () {
      map.removeLayer(tiles);
      mapEl.setAttribute("data-tiles-state", "failed");
      showNote(mapEl, "data-tiles-failed-message");
    });
    tiles.once("load", function () {
      if (mapEl.getAttribute("data-tiles-state") === "loading") {
        mapEl.setAttribute("data-tiles-state", "loaded");
      }
    });
    tiles.addTo(map);
  }

  function plot(mapEl, map, data) {
    var points = cleanPoints(data);
    if (points.length === 0) {
      map.setView([0, 0], 2);
      showNote(mapEl, "data-empty-message");
    } else {
      var bounds = L.latLngBounds(points.map(function (point) { return [point.lat, point.lng]; }));
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 });
      points.forEach(function (point) {
        L.circleMarker([point.lat, point.lng], {
          radius: 7,
          weight: 2,
          color: "#ffffff",
          fillColor: STATUS_COLOURS[point.status] || STATUS_COLOURS.open,
          fillOpacity: 0.9
        })
          .bindPopup(popupContent(point))
          .addTo(map);
      });
    }
    mapEl.setAttribute("data-point-count", String(points.length));
    mapEl.setAttribute("data-ready", "true");
  }

  function loadData(mapEl) {
    var script = mapEl.querySelector('script.map-data[type="application/json"]');
    if (script) {
      return new Promise(function (resolve) {
        resolve(JSON.parse(script.textContent || "[]"));
      });
    }
    return fetch(mapEl.getAttribute("data-points-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  function initMap(mapEl) {
    if (mapEl.hasAttribute("data-map-initialised")) {
      return;
    }
    mapEl.setAttribute("data-map-initialised", "true");
    findNote(mapEl);   // the live region should exist before a message is put in it
    var data = loadData(mapEl);
    var map = L.map(mapEl, { preferCanvas: true, minZoom: 1, maxZoom: 19, worldCopyJump: true });
    addTiles(mapEl, map);
    data.then(
      function (result) { plot(mapEl, map, result); },
      function () {
        map.setView([0, 0], 2);
        mapEl.setAttribute("data-ready", "error");
        showNote(mapEl, "data-error-message");
      }
    );
  }

  function initWithin(root) {
    if (typeof L === "undefined" || !root || !root.querySelectorAll) {
      return;
    }
    var candidates = [];
    if (root.matches && root.matches(".map")) {
      candidates.push(root);
    }
    Array.prototype.push.apply(candidates, root.querySelectorAll(".map"));
    candidates.forEach(function (mapEl) {
      if (mapEl.hasAttribute("data-points-url") || mapEl.querySelector("script.map-data")) {
        initMap(mapEl);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { initWithin(document); });
  } else {
    initWithin(document);
  }
  // Maps inside content swapped in by htmx.
  document.addEventListener("htmx:load", function (event) { initWithin(event.target); });
})();
