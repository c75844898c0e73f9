"""Every role × every place action, inside the body, from a coordinating body and from outside."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import MembershipFactory, PlaceFactory, UserFactory
from vigil.core.models import Role

ALL_ROLES = [choice.value for choice in Role]
VIEWERS = {r for r in ALL_ROLES if r != Role.AUTHORITY_FOCAL_POINT}
EDITORS = {Role.HEAD, Role.VISIT_LEADER, Role.ANALYST}
DOCUMENTERS = {Role.HEAD, Role.VISIT_LEADER, Role.MONITOR, Role.ANALYST}
MERGERS = {Role.HEAD, Role.ANALYST}
HEADS = {Role.HEAD}
REVEALERS = {Role.HEAD, Role.VISIT_LEADER}


def _expected(role: str, allowed: set[str], ok: int = 200) -> int:
    if role not in VIEWERS:
        return 404  # places do not exist for an authority focal point
    return ok if role in allowed else 403


PAGE_ACTIONS = [
    # (name, method, url builder, allowed roles, success status)
    ("view list", "get", lambda p: reverse("places:list"), VIEWERS, 200),
    ("view dossier", "get", lambda p: reverse("places:detail", args=[p.pk]), VIEWERS, 200),
    ("view map", "get", lambda p: reverse("places:map"), VIEWERS, 200),
    ("export csv", "get", lambda p: reverse("places:export", args=["csv"]), VIEWERS, 200),
    ("create form", "get", lambda p: reverse("places:create"), EDITORS, 200),
    ("edit form", "get", lambda p: reverse("places:edit", args=[p.pk]), EDITORS, 200),
    ("merge form", "get", lambda p: reverse("places:merge", args=[p.pk]), MERGERS, 200),
    ("trash", "get", lambda p: reverse("places:trash"), HEADS, 200),
    ("duplicates", "get", lambda p: reverse("places:duplicates"), MERGERS, 200),
    ("delete", "post", lambda p: reverse("places:delete", args=[p.pk]), HEADS, 302),
    ("reveal notes", "post", lambda p: reverse("places:reveal_notes", args=[p.pk]), REVEALERS, 200),
]


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("action", PAGE_ACTIONS, ids=[a[0] for a in PAGE_ACTIONS])
def test_role_page_matrix(body, persona, client_for, role, action):
    _, method, url, allowed, ok = action
    place = PlaceFactory(body=body, confidential_notes="Gate code 1234")
    client = client_for(persona(role).user)
    response = getattr(client, method)(url(place))
    assert response.status_code == _expected(role, allowed, ok)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_document_upload_matrix(body, persona, client_for, role):
    place = PlaceFactory(body=body)
    client = client_for(persona(role).user)
    upload = SimpleUploadedFile("note.txt", b"synthetic note", content_type="text/plain")
    response = client.post(reverse("places:document_upload", args=[place.pk]), {"file": upload})
    if role not in VIEWERS:
        assert response.status_code == 404
    elif role in DOCUMENTERS:
        assert response.status_code == 302
        assert place.documents.count() == 1
    else:
        assert response.status_code == 403
        assert place.documents.count() == 0


OUTSIDE_URLS = [
    ("get", "places:detail"),
    ("get", "places:edit"),
    ("get", "places:merge"),
    ("post", "places:delete"),
    ("post", "places:reveal_notes"),
    ("post", "places:document_upload"),
]


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize(("method", "name"), OUTSIDE_URLS)
def test_place_of_another_body_is_404_everywhere(body, other_body, client_for, role, method, name):
    """Whatever their role in their own body, a member of another body finds nothing here."""
    place = PlaceFactory(body=body, confidential_notes="Not for other bodies")
    stranger = MembershipFactory(
        user=UserFactory(username=f"stranger-{role}"), body=other_body, role=role
    ).user
    response = getattr(client_for(stranger), method)(reverse(name, args=[place.pk]))
    assert response.status_code == 404
    assert b"Not for other bodies" not in response.content
    place.refresh_from_db()
    assert place.deleted_at is None and place.documents.count() == 0


def test_place_of_another_body_is_absent_from_lists_and_exports(body, outsider, client_for):
    PlaceFactory(body=body, name="Hidden Lock-up")
    client = client_for(outsider)
    assert b"Hidden Lock-up" not in client.get(reverse("places:list")).content
    export = client.get(reverse("places:export", args=["csv"]))
    assert b"Hidden Lock-up" not in b"".join(export.streaming_content)
    assert b"Hidden Lock-up" not in client.get(reverse("places:map")).content


def test_coordinating_body_sees_member_places_but_not_confidential_ones(
    body, member_body, head, client_for
):
    shared = PlaceFactory(body=member_body, name="Member Police Station")
    secret = PlaceFactory(body=member_body, name="Member Secret Site", is_confidential=True)
    client = client_for(head)
    listing = client.get(reverse("places:list")).content
    assert b"Member Police Station" in listing
    assert b"Member Secret Site" not in listing
    assert client.get(reverse("places:detail", args=[shared.pk])).status_code == 200
    assert client.get(reverse("places:detail", args=[secret.pk])).status_code == 404
    # Seeing a member body's place does not allow changing it.
    assert client.get(reverse("places:edit", args=[shared.pk])).status_code == 403
    assert client.post(reverse("places:delete", args=[shared.pk])).status_code == 403


def test_member_body_does_not_see_the_coordinators_places(body, member_body, client_for):
    PlaceFactory(body=body, name="Coordinator Prison")
    regional = MembershipFactory(
        user=UserFactory(username="regional"), body=member_body, role=Role.HEAD
    ).user
    assert b"Coordinator Prison" not in client_for(regional).get(reverse("places:list")).content


def test_anonymous_user_is_sent_to_sign_in(body, client):
    place = PlaceFactory(body=body)
    response = client.get(reverse("places:detail", args=[place.pk]))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
