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
 * Data never goes through innerHTML: popups and markers are built from DOM nodes.
 * Browser tests wait on data-ready="true" (points plotted) and data-tiles-state="failed", and
 * read data-zoom and data-marker-count (markers and bubbles drawn), kept up to date on each move.
 *
 * Thousands of places stay readable: at each zoom, the places that fall in the same square of
 * CLUSTER_CELL pixels on the screen are drawn as one bubble with their number, and selecting it
 * zooms in on them (or, when they share one spot, lists them). A place alone in its square is a
 * marker of its status's colour and shape (the legend under the map says which), with a hit area
 * of at least 24px. Markers are elements, so they can be reached with the keyboard too. Nothing
 * here sets a style attribute: the Content-Security-Policy refuses them; vigil.css styles the
 * markers by class.
 *
 * Optional attributes for the words the markers need (the page translates them):
 *   data-cluster-label="%(count)s places here; select to zoom in"
 *   data-cluster-list-label="%(count)s places at this spot"
 */
(function () {
  "use strict";

  var STATUSES = ["open", "temporary", "closed"];
  var CLUSTER_CELL = 48;      // px: places closer than this on the screen share a bubble
  var MARKER_SIZE = 24;       // px: the hit area of one place (WCAG 2.5.8)
  var MIN_DISTANCE = 40;      // px: closer than this, two marks would overlap

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

  function words(mapEl, attribute, fallback, count) {
    return (mapEl.getAttribute(attribute) || fallback).replace("%(count)s", String(count));
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
          key: item.id == null ? String(points.length) : String(item.id),
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

  // A div icon that names itself: Leaflet gives a marker role="button" and tabindex="0", and a
  // button needs a name (the place, or how many places a bubble holds). Made on first use, as
  // Leaflet may not have loaded (then no map is drawn at all).
  var NamedIcon = null;

  function namedIcon(options) {
    if (NamedIcon === null) {
      NamedIcon = L.DivIcon.extend({
        createIcon: function (oldIcon) {
          var element = L.DivIcon.prototype.createIcon.call(this, oldIcon);
          element.setAttribute("aria-label", this.options.label);
          return element;
        }
      });
    }
    return new NamedIcon(options);
  }

  function markerIcon(point) {
    var status = STATUSES.indexOf(point.status) === -1 ? "open" : point.status;
    return namedIcon({
      className: "map-marker " + status,
      html: false,
      iconSize: [MARKER_SIZE, MARKER_SIZE],
      label: [point.name, point.statusLabel].filter(Boolean).join(", ")
    });
  }

  function clusterIcon(mapEl, members) {
    var count = members.length;
    var size = count < 10 ? 32 : (count < 100 ? 40 : 48);
    var number = document.createElement("span");
    number.textContent = String(count);
    number.setAttribute("aria-hidden", "true");
    return namedIcon({
      className: "map-cluster" + (count < 10 ? "" : (count < 100 ? " medium" : " large")),
      html: number,
      iconSize: [size, size],
      label: words(mapEl, "data-cluster-label", "%(count)s places here; select to zoom in", count)
    });
  }

  function listContent(mapEl, members) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = words(mapEl, "data-cluster-list-label", "%(count)s places at this spot",
      members.length);
    box.appendChild(title);
    var list = document.createElement("ul");
    list.className = "map-popup-list";
    members.forEach(function (point) {
      var item = document.createElement("li");
      item.appendChild(popupContent(point));
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  // The places of the visible area (and a margin), grouped by the screen square they fall in at
  // the current zoom. Squares are fixed to the world, not the screen, so panning keeps groups.
  // Two neighbouring groups whose marks would overlap become one.
  function groups(map, points) {
    var zoom = map.getZoom();
    var area = map.getBounds().pad(0.5);
    var cells = {};
    var order = [];
    points.forEach(function (point) {
      if (!area.contains(point.latLng)) {
        return;
      }
      var pixel = map.project(point.latLng, zoom);
      var column = Math.floor(pixel.x / CLUSTER_CELL);
      var row = Math.floor(pixel.y / CLUSTER_CELL);
      var key = column + ":" + row;
      var cell = cells[key];
      if (!cell) {
        cell = cells[key] = { key: key, column: column, row: row, members: [], x: 0, y: 0 };
        order.push(cell);
      }
      cell.members.push(point);
      cell.x += pixel.x;
      cell.y += pixel.y;
    });
    order.forEach(function (cell) {
      if (cell.merged) {
        return;
      }
      for (var dx = -1; dx <= 1; dx += 1) {
        for (var dy = -1; dy <= 1; dy += 1) {
          var other = cells[(cell.column + dx) + ":" + (cell.row + dy)];
          if (!other || other === cell || other.merged) {
            continue;
          }
          var n = cell.members.length;
          var m = other.members.length;
          var distance = Math.sqrt(Math.pow(cell.x / n - other.x / m, 2) +
            Math.pow(cell.y / n - other.y / m, 2));
          if (distance < MIN_DISTANCE) {
            Array.prototype.push.apply(cell.members, other.members);
            cell.x += other.x;
            cell.y += other.y;
            other.merged = true;
          }
        }
      }
    });
    return order.filter(function (cell) { return !cell.merged; }).map(function (cell) {
      var members = cell.members;
      return {
        key: members.length === 1
          ? "place:" + members[0].key
          : "cell:" + zoom + ":" + cell.key + ":" + members.length,
        members: members
      };
    });
  }

  function centreOf(members) {
    var lat = 0;
    var lng = 0;
    members.forEach(function (point) {
      lat += point.lat;
      lng += point.lng;
    });
    return L.latLng(lat / members.length, lng / members.length);
  }

  function openPopup(map, latLng, content) {
    // A popup of the map, not of a marker: markers are replaced as the view changes, and a
    // popup bound to one would close with it.
    L.popup({ offset: [0, -8], maxHeight: 260 }).setLatLng(latLng).setContent(content).openOn(map);
  }

  function zoomInOn(mapEl, map, group, latLng) {
    var bounds = L.latLngBounds(group.members.map(function (point) { return point.latLng; }));
    var zoom = map.getZoom();
    var target = Math.min(map.getBoundsZoom(bounds.pad(0.2)), map.getMaxZoom());
    if (target <= zoom || bounds.getNorthEast().equals(bounds.getSouthWest())) {
      // They share one spot, or the map cannot zoom any closer: list them instead.
      openPopup(map, latLng, listContent(mapEl, group.members));
    } else {
      map.setView(bounds.getCenter(), target);
    }
  }

  function drawer(mapEl, map, points) {
    var shown = {};   // key -> marker on the map
    var layer = L.layerGroup().addTo(map);
    return function draw() {
      var wanted = {};
      groups(map, points).forEach(function (group) {
        wanted[group.key] = true;
        if (shown[group.key]) {
          return;   // kept as it is, so keyboard focus stays on it
        }
        var single = group.members.length === 1;
        var latLng = single ? group.members[0].latLng : centreOf(group.members);
        var marker = L.marker(latLng, {
          icon: single ? markerIcon(group.members[0]) : clusterIcon(mapEl, group.members),
          keyboard: true,
          riseOnHover: true,
          title: single ? group.members[0].name : ""
        });
        var activate = function () {
          if (single) {
            openPopup(map, latLng, popupContent(group.members[0]));
          } else {
            zoomInOn(mapEl, map, group, latLng);
          }
        };
        marker.on("click", activate);
        // A marker is a button (Leaflet's role="button"): Enter and Space press it.
        marker.on("keydown", function (event) {
          var key = event.originalEvent.key;
          if (key === "Enter" || key === " ") {
            event.originalEvent.preventDefault();
            activate();
          }
        });
        shown[group.key] = marker;
        layer.addLayer(marker);
      });
      var lostFocus = false;
      Object.keys(shown).forEach(function (key) {
        if (!wanted[key]) {
          var element = shown[key].getElement();
          lostFocus = lostFocus || (element && element.contains(document.activeElement));
          layer.removeLayer(shown[key]);
          delete shown[key];
        }
      });
      if (lostFocus) {
        // The bubble pressed with the keyboard is gone (it split up): the map keeps the focus,
        // so Tab goes on to the places now shown.
        map.getContainer().focus({ preventScroll: true });
      }
      mapEl.setAttribute("data-marker-count", String(Object.keys(shown).length));
      mapEl.setAttribute("data-zoom", String(map.getZoom()));
    };
  }

  function plot(mapEl, map, data) {
    var points = cleanPoints(data);
    if (points.length === 0) {
      map.setView([0, 0], 2);
      showNote(mapEl, "data-empty-message");
    } else {
      points.forEach(function (point) { point.latLng = L.latLng(point.lat, point.lng); });
      var bounds = L.latLngBounds(points.map(function (point) { return point.latLng; }));
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 });
      var draw = drawer(mapEl, map, points);
      draw();
      map.on("moveend", draw);   // zooming ends with a moveend too
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
    var map = L.map(mapEl, { minZoom: 1, maxZoom: 19, worldCopyJump: true });
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
