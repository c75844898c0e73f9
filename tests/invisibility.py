"""`assert_invisible(membership, obj)`: what a member may not see does not exist for them, on
every surface Vigil has. Every app's permission tests call it for their objects.

It walks, for the object's app: every page URL that takes the object's id (GET and POST: 404,
or 405 for a method the page refuses before looking anything up) and checks nothing changed;
every page without an id (lists, map, trash, search with the object's name, CSV and XLSX
exports), the overview, the audit trail page and its CSV, the notifications page; every API
route of a viewset over the object's model (detail 404, list and export without it).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from django.db import models
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from vigil.core.models import Membership

ID_KWARGS = ("pk", "id")


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = "") -> list[tuple]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            child_ns = entry.namespace or namespace
            found.extend(_patterns(entry, prefix + str(entry.pattern), child_ns))
        elif isinstance(entry, URLPattern):
            found.append((namespace, prefix + str(entry.pattern), entry))
    return found


def _text(response: Any) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    if content[:2] == b"PK":  # an XLSX workbook: read its cells
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(
            str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
        )
    return content.decode("utf-8", errors="replace")


def _snapshot(obj: models.Model) -> dict[str, Any]:
    fresh = type(obj)._default_manager.get(pk=obj.pk)
    return model_to_dict(fresh)


def _page_urls(app_label: str) -> tuple[list[str], list[str]]:
    """(URLs taking the object's id, URLs without arguments) of the app's namespace."""
    with_id, without = [], []
    for namespace, _route, pattern in _patterns(get_resolver()):
        if namespace != app_label or not pattern.name:
            continue
        params = list(pattern.pattern.regex.groupindex)
        name = f"{namespace}:{pattern.name}"
        if params and params[0] in ID_KWARGS and len(params) == 1:
            with_id.append(name)
        elif not params:
            without.append(name)
        elif params == ["fmt"]:
            without.extend(reverse(name, kwargs={"fmt": fmt}) for fmt in ("csv", "xlsx"))
    return with_id, without


def _api_routes(model: type[models.Model]) -> tuple[list[str], list[str]]:
    """(detail route names, list and export route names) of viewsets over `model`."""
    detail, listing = [], []
    for _namespace, _route, pattern in _patterns(get_resolver()):
        view_class = getattr(pattern.callback, "cls", None)
        if view_class is None or getattr(view_class, "model", None) is not model:
            continue
        if not pattern.name or (
            pattern.name.endswith(("-list", "-detail")) is False and ("export" not in pattern.name)
        ):
            continue
        params = list(pattern.pattern.regex.groupindex)
        if "format" in params:
            continue
        if params == ["pk"]:
            detail.append(pattern.name)
        elif not params:
            listing.append(pattern.name)
    return detail, listing


def assert_invisible(membership: Membership, obj: models.Model) -> int:
    """Fail unless `obj` is absent for `membership` on every surface; returns how many requests
    were made (so a test can show the sweep was not empty)."""
    client = Client()
    client.force_login(membership.user)
    if membership.body.slug:
        session = client.session
        session["vigil_body_id"] = membership.body_id
        session.save()
    name = str(obj)
    before = _snapshot(obj)
    requests = 0
    app_label = obj._meta.app_label
    with_id, without = _page_urls(app_label)
    assert with_id or without, f"no page of {app_label} found to check"

    missing_pk = 2**31 - 1
    for url_name in with_id:
        url = reverse(url_name, args=[obj.pk])
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            # No existence oracle: the object answers exactly as an id that does not exist (a
            # 403 for a role that may not use the page at all, whatever the id, is the same).
            missing = getattr(client, method)(reverse(url_name, args=[missing_pk]))
            requests += 2
            status = response.status_code
            assert status == missing.status_code, f"{method.upper()} {url}: {status}"
            assert status in (403, 404, 405), f"{method.upper()} {url}: {status}"
            assert name not in _text(response), f"{method.upper()} {url} shows {name!r}"

    pages = [reverse(n) if ":" in n else n for n in without]
    pages += [reverse("home"), reverse("audit"), reverse("audit_export")]
    with contextlib.suppress(NoReverseMatch):  # where the notifications page exists
        pages.append(reverse("notifications"))
    # A search page echoes the words searched for; it must not link to the object.
    link = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else None
    for url in pages:
        for query in ({}, {"q": name}):
            response = client.get(url, query)
            requests += 1
            if response.status_code in (403, 404, 405):
                continue
            text = _text(response)
            if query:
                assert not link or f'href="{link}"' not in text, f"GET {url} {query} links it"
            else:
                assert name not in text, f"GET {url} shows {name!r}"

    detail, listing = _api_routes(type(obj))
    for route in detail:
        response = client.get(reverse(route, args=[obj.pk]))
        requests += 1
        assert response.status_code == 404, f"API {route}: {response.status_code}"
    for route in listing:
        for query in ({}, {"q": name}, {"page_size": 500}):
            response = client.get(reverse(route), query)
            requests += 1
            if response.status_code in (403, 404):
                continue
            assert name not in _text(response), f"API {route} shows {name!r}"
    assert _snapshot(obj) == before, "a request changed the object"
    return requests
