"""Who sees which recommendation: staff of the body, a focal point only what is addressed to
their authority (and its units if granted), nobody else anything; and the portal's isolation,
swept over every page and API route."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.invisibility import assert_invisible
from tests.recommendations.conftest import issue, link
from tests.test_access_matrix import MISSING, _url, routes
from vigil.core.access import visible
from vigil.core.models import Role
from vigil.recommendations import services
from vigil.recommendations.models import (
    AssessmentChange,
    Authority,
    Exchange,
    FocalPoint,
    Position,
    PositionChange,
    Recommendation,
    RecommendationSettings,
    SentMessage,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def to_health(writer, directory):
    return issue(writer, directory["health"], systemic=True, text="Hire a doctor for every prison.")


@pytest.fixture
def to_service(writer, directory, place):
    return issue(writer, directory["service"], places=[place], text="Publish the cell sizes.")


@pytest.fixture
def to_prison(writer, directory, place):
    return issue(writer, directory["prison"], places=[place], text="Repair the Northgate showers.")


def test_staff_see_the_body_s_recommendations(persona, to_health, to_service):
    for role in (Role.HEAD, Role.VISIT_LEADER, Role.MONITOR, Role.ANALYST, Role.AUDITOR):
        assert set(visible(persona(role), Recommendation)) == {to_health, to_service}


def test_a_focal_point_sees_only_their_authority_s(focal, to_health, to_service, to_prison):
    assert list(visible(focal, Recommendation)) == [to_service]


def test_subordinate_units_when_granted(head_membership, focal, directory, to_service, to_prison):
    link(head_membership, focal, directory["service"], include_subordinates=True)
    assert set(visible(focal, Recommendation)) == {to_service, to_prison}
    # The parent ministry's recommendations stay out of reach.
    link(head_membership, focal, directory["prison"], include_subordinates=True)
    assert list(visible(focal, Recommendation)) == [to_prison]


def test_an_unlinked_focal_point_sees_nothing(body, to_service):
    from tests.recommendations.conftest import focal_member

    assert not visible(focal_member(body, "unlinked"), Recommendation).exists()


def test_every_other_model_keeps_the_external_default(
    writer, focal, directory, to_service, head_membership
):
    services.recommendation_set_position(
        membership=focal, recommendation=to_service, position=Position.ACCEPTED
    )
    services.recommendation_assess(
        membership=writer, recommendation=to_service, assessment="in_progress"
    )
    services.exchange_create(
        membership=writer,
        authority=directory["service"],
        data={"kind": "body_reply", "subject": "Thanks"},
        recommendations=[to_service],
    )
    SentMessage.objects.create(
        recommendation=to_service, kind="overdue", due_on=to_service.issued_on
    )
    services.settings_update(membership=head_membership, data={"response_days": 30})
    for model in (
        Authority,
        PositionChange,
        AssessmentChange,
        Exchange,
        FocalPoint,
        SentMessage,
        RecommendationSettings,
    ):
        assert model.objects.exists(), model
        assert not visible(focal, model).exists(), model
        assert visible(head_membership, model).exists(), model


@pytest.mark.parametrize("who", ["focal", "health_focal", "outsider", "regional"])
def test_invisible_everywhere(request, who, to_health, to_service, to_prison, personas):
    membership = personas(who) if who in {"outsider", "regional"} else request.getfixturevalue(who)
    hidden = [
        r
        for r in (to_health, to_service, to_prison)
        if not visible(membership, Recommendation).filter(pk=r.pk).exists()
    ]
    assert hidden
    for recommendation in hidden:
        assert assert_invisible(membership, recommendation) > 10


@pytest.mark.parametrize("who", ["focal", "outsider"])
def test_authorities_are_invisible_outside(request, who, directory, personas):
    membership = personas(who) if who == "outsider" else request.getfixturevalue(who)
    assert assert_invisible(membership, directory["health"]) > 10


def _client(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    session = client.session
    session["vigil_body_id"] = membership.body_id
    session.save()
    return client


def test_the_portal_is_isolated(health_focal, writer, directory, to_service):
    """A focal point of another authority: every page and API route, with the ids of a
    recommendation, an exchange and an authority not theirs, answers as for a missing id and
    changes nothing."""
    exchange = services.exchange_create(
        membership=writer,
        authority=directory["service"],
        data={"kind": "body_reply", "subject": "Our reply on cell sizes"},
        recommendations=[to_service],
    )
    client = _client(health_focal)
    before = Recommendation.objects.values().get(pk=to_service.pk)
    checked = 0
    for obj in (to_service, exchange, directory["service"]):
        for route in routes():
            if not route.params:
                continue
            url, missing_url = _url(route, obj.pk), _url(route, MISSING)
            if url is None:
                continue
            for method in ("get",) if route.is_api else ("get", "post"):
                response = getattr(client, method)(url)
                missing = getattr(client, method)(missing_url)
                checked += 1
                assert response.status_code == missing.status_code, f"{method} {url}"
                assert response.status_code not in (200, 201, 204), f"{method} {url}"
                assert "cell sizes" not in response.content.decode(), f"{method} {url}"
    assert checked > 50
    assert Recommendation.objects.values().get(pk=to_service.pk) == before
    # The pages without an id: the portal lists nothing of the other authority.
    for route in routes():
        if route.params or route.name in {"logout", "set_language"}:
            continue
        url = reverse(route.name)
        if url.startswith(("/api/schema", "/api/docs", "/static/")):
            continue
        response = client.get(url)
        assert response.status_code < 500, url
        if response.status_code == 200 and not getattr(response, "streaming", False):
            assert "cell sizes" not in response.content.decode(), url


def test_the_focal_point_s_own_portal(focal, to_service, client_for):
    client = _client(focal)
    page = client.get(reverse("portal:list"))
    assert page.status_code == 200
    assert "Publish the cell sizes." in page.content.decode()
    assert client.get(reverse("portal:detail", args=[to_service.pk])).status_code == 200
    # The body's own pages do not exist for them.
    assert client.get(reverse("recommendations:list")).status_code == 404
    assert client.get(reverse("recommendations:detail", args=[to_service.pk])).status_code == 404
    assert client.get(reverse("visits:list")).status_code == 404
    assert client.get(reverse("places:list")).status_code == 404


def test_staff_have_no_portal(writer, to_service):
    client = _client(writer)
    assert client.get(reverse("portal:list")).status_code == 404
    assert client.get(reverse("portal:detail", args=[to_service.pk])).status_code == 404
