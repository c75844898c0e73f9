"""The role × endpoint matrix, generated from the URL configuration and the API routes — not
written by hand — so a new app's URLs are in it the day they are added.

For every persona (each role of the national body, a monitor of its member body, the head of
another body, and nobody signed in) and every kind of object that persona must not see (another
body's place, a member body's confidential place, a trashed place, an unannounced visit before it
starts), every page and API route that takes an id answers exactly as it does for an id that does
not exist, never with the object, and changes nothing. For objects a persona may see, no route
answers with a server error.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tests.factories import MembershipFactory, PlaceFactory, UserFactory
from vigil.core.models import Membership, Role
from vigil.core.personas import PERSONAS
from vigil.planning.models import Programme, ProgrammeVisit
from vigil.protection.models import Case, ProtectedPerson
from vigil.recommendations.models import Authority, Recommendation
from vigil.visits.models import TeamMember, TeamRole, Visit

pytestmark = pytest.mark.django_db

MISSING = 2**31 - 1
SKIPPED_PREFIXES = ("/api/schema", "/api/docs", "/i18n/", "/static/", "/logout/", "/login/")


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    is_api: bool
    params: tuple[str, ...]


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[tuple]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            child = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            yield from _walk(entry, prefix + str(entry.pattern), child)
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace, prefix + str(entry.pattern), entry


def routes() -> list[Route]:
    """Every named route: one entry per name, with its parameters."""
    found: dict[str, Route] = {}
    for namespace, path, pattern in _walk(get_resolver()):
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        params = tuple(pattern.pattern.regex.groupindex)
        if "format" in params or name in found:
            continue
        found[name] = Route(name, path, path.startswith("api/"), params)
    return list(found.values())


def _url(route: Route, pk: int) -> str | None:
    """The route with `pk` in its first id parameter and 1 in any other; None if it takes
    parameters that are not ids (a file format, an import kind)."""
    kwargs: dict[str, object] = {}
    for index, param in enumerate(route.params):
        if param == "fmt":
            kwargs[param] = "csv"
        elif param == "kind":
            kwargs[param] = "places"
        elif _is_id(param):
            kwargs[param] = pk if index == 0 else 1
        else:
            return None
    url = reverse(route.name, kwargs=kwargs)
    return None if url.startswith(SKIPPED_PREFIXES) else url


def _is_id(param: str) -> bool:
    return param in {"pk", "id"} or param.endswith(("_pk", "_id"))


def id_routes() -> list[Route]:
    return [route for route in routes() if route.params and _is_id(route.params[0])]


def _client(membership: Membership | None) -> Client:
    client = Client()
    if membership is not None:
        client.force_login(membership.user)
        session = client.session
        session["vigil_body_id"] = membership.body_id
        session.save()
    return client


@pytest.fixture
def world(body, member_body, other_body, personas):
    """The personas and the objects of the access model."""
    people = {persona.username: personas(persona.username) for persona in PERSONAS}
    regional_head = MembershipFactory(
        user=UserFactory(username="regional-head"), body=member_body, role=Role.HEAD
    )
    # Ids no other record has: a route that addresses another model (a term, a member) then
    # answers for these ids exactly as for a missing one, so any difference is a leak.
    national_place = PlaceFactory(id=900_001, body=body, name="Matrix National Prison")
    confidential = PlaceFactory(
        id=900_002, body=member_body, name="Matrix Safe House", is_confidential=True
    )
    trashed = PlaceFactory(
        id=900_003, body=body, name="Matrix Closed Annex", deleted_at=timezone.now()
    )
    other_place = PlaceFactory(id=900_004, body=other_body, name="Matrix Elsewhere Jail")
    day = timezone.localdate() + datetime.timedelta(days=5)
    secret_visit = Visit.objects.create(
        id=900_005, body=body, place=national_place, planned_start=day, planned_end=day
    )
    TeamMember.objects.create(
        visit=secret_visit, membership=people["leader"], team_role=TeamRole.LEADER
    )
    programme = Programme.objects.create(
        id=900_006, body=body, title="Matrix programme", starts_on=day.replace(day=1)
    )
    ProgrammeVisit.objects.create(id=900_007, programme=programme, place=national_place, month=0)
    # A case and a person at risk the monitor holds: need-to-know to the monitor and the heads.
    case = Case.objects.create(
        id=900_008,
        body=body,
        reference="C-MATRIX",
        pseudonym="P-MATRIX",
        source="letter",
        current_place=national_place,
        narrative="Matrix narrative",
        identity="Matrix Identity",
    )
    case.holders.add(people["monitor"])
    person = ProtectedPerson.objects.create(
        id=900_009,
        body=body,
        pseudonym="P-MATRIXRISK",
        current_place=national_place,
        identity="Matrix Identity",
    )
    person.holders.add(people["monitor"])
    # The focal point persona is linked to no authority: no recommendation exists for them.
    ministry = Authority.objects.create(id=900_010, body=body, name="Matrix Ministry")
    recommendation = Recommendation.objects.create(
        id=900_011,
        body=body,
        authority=ministry,
        text="Matrix recommendation on cell sizes",
        is_systemic=True,
        issued_on=timezone.localdate(),
        response_due=timezone.localdate() + datetime.timedelta(days=28),
    )
    return {
        "people": people,
        "regional_head": regional_head,
        "objects": {
            "recommendation": recommendation,
            "national place": national_place,
            "member confidential place": confidential,
            "trashed place": trashed,
            "other body place": other_place,
            "secret visit": secret_visit,
            "programme": programme,
            "case": case,
            "person at risk": person,
        },
    }


# Who must not see what (the access model of DESIGN.md and the issues).
INVISIBLE = {
    "national place": {"focal", "regional", "outsider"},
    "member confidential place": {
        "head",
        "leader",
        "monitor",
        "analyst",
        "admin",
        "auditor",
        "focal",
        "outsider",
    },
    # The head restores from the trash: for everyone else a trashed place is gone.
    "trashed place": {
        "leader",
        "monitor",
        "analyst",
        "admin",
        "auditor",
        "focal",
        "regional",
        "outsider",
    },
    "other body place": {
        "head",
        "leader",
        "monitor",
        "analyst",
        "admin",
        "auditor",
        "focal",
        "regional",
    },
    "secret visit": {"monitor", "analyst", "admin", "auditor", "focal", "regional", "outsider"},
    # The programme is secret: its planners see it, a monitor only with a visit of it.
    "programme": {"monitor", "analyst", "admin", "auditor", "focal", "regional", "outsider"},
    # Cases and persons at risk: their holders (the monitor here) and the heads, nobody else.
    "case": {"leader", "analyst", "admin", "auditor", "focal", "regional", "outsider"},
    "person at risk": {"leader", "analyst", "admin", "auditor", "focal", "regional", "outsider"},
    # An authority focal point sees only what is addressed to their own authority.
    "recommendation": {"focal", "regional", "outsider"},
}


def _snapshot(obj) -> dict:
    return model_to_dict(type(obj)._default_manager.get(pk=obj.pk))


def test_the_matrix_covers_every_app():
    names = {route.name for route in id_routes()}
    assert {
        "places:detail",
        "visits:detail",
        "planning:detail",
        "protection:case_detail",
        "recommendations:detail",
        "portal:detail",
        "user_edit",
    } <= names
    assert any(route.is_api for route in id_routes())


PERSONAS_WHO_MISS_SOMETHING = sorted({name for names in INVISIBLE.values() for name in names})


@pytest.mark.parametrize("username", PERSONAS_WHO_MISS_SOMETHING)
def test_what_a_persona_may_not_see_answers_like_nothing(world, username):
    client = _client(world["people"][username])
    kinds = [kind for kind, names in INVISIBLE.items() if username in names]
    objects = [world["objects"][kind] for kind in kinds]
    before = [_snapshot(obj) for obj in objects]
    pairs = 0
    for route in id_routes():
        missing_url = _url(route, MISSING)
        if missing_url is None:
            continue
        for method in ("get",) if route.is_api else ("get", "post"):
            missing = getattr(client, method)(missing_url).status_code
            for kind, obj in zip(kinds, objects, strict=True):
                url = _url(route, obj.pk)
                response = getattr(client, method)(url)
                pairs += 1
                where = f"{username} {method.upper()} {url} ({kind})"
                assert response.status_code == missing, where
                assert response.status_code not in (200, 201, 204), where
                assert obj_name(obj) not in _text(response), where
    assert [_snapshot(obj) for obj in objects] == before
    assert pairs >= len(kinds) * len(id_routes())


def obj_name(obj) -> str:
    return getattr(obj, "name", None) or str(obj)


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


@pytest.mark.parametrize("username", [persona.username for persona in PERSONAS])
def test_no_route_fails_for_what_a_persona_may_see(world, username):
    """Pages and API routes answer (200, a redirect, 403, 404, 405): never a server error."""
    client = _client(world["people"][username])
    client.raise_request_exception = False
    for obj in world["objects"].values():
        for route in id_routes():
            url = _url(route, obj.pk)
            if url is None:
                continue
            response = client.get(url)
            assert response.status_code < 500, f"{username} GET {url}: {response.status_code}"


def test_nobody_signed_in_is_sent_to_sign_in_or_refused(world):
    client = Client()
    for route in routes():
        url = _url(route, world["objects"]["national place"].pk)
        if url is None or route.name in {"home", "login", "set_language"}:
            continue
        response = client.get(url)
        if route.is_api:
            assert response.status_code in (401, 403), f"GET {url}: {response.status_code}"
        else:
            assert response.status_code in (302, 405), f"GET {url}: {response.status_code}"
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), url
