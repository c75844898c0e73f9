"""The overview page: counts a member may see, their jobs, the latest audit entries for those who
read the trail, and the pages for a person with no body and for an authority focal point."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import MembershipFactory, PlaceFactory, UserFactory
from vigil.core.access import SESSION_BODY_KEY
from vigil.core.audit import audit
from vigil.core.models import Job, JobStatus, Role
from vigil.places.models import PossibleDuplicate

pytestmark = pytest.mark.django_db


def counts(response) -> dict[str, int]:
    """The overview's cards that show a count, by key."""
    return {
        card.key: context["count"]
        for card, context in response.context["cards"]
        if "count" in context
    }


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role_fixture", ["analyst", "head"])
def test_counts_places_and_open_duplicates_of_the_body(
    request, client_for, body, other_body, role_fixture
):
    first, second, third = (PlaceFactory(body=body) for _ in range(3))
    PlaceFactory(body=other_body)
    PossibleDuplicate.objects.create(body=body, place=first, other=second, score=0.9)
    PossibleDuplicate.objects.create(
        body=body, place=first, other=third, score=0.9, status=PossibleDuplicate.Status.DISMISSED
    )
    response = client_for(request.getfixturevalue(role_fixture)).get(reverse("home"))
    assert response.status_code == 200
    assert counts(response) == {"places": 3, "duplicates": 1, "visits": 0}
    assert reverse("places:duplicates") in response.content.decode()


@pytest.mark.parametrize("role_fixture", ["visit_leader", "monitor", "admin_user", "auditor"])
def test_duplicates_card_only_for_roles_that_may_merge(request, client_for, body, role_fixture):
    """A card shows only where its link works: those who may not merge get no duplicates card."""
    first, second = PlaceFactory(body=body), PlaceFactory(body=body)
    PossibleDuplicate.objects.create(body=body, place=first, other=second, score=0.9)
    response = client_for(request.getfixturevalue(role_fixture)).get(reverse("home"))
    assert response.status_code == 200
    assert "duplicates" not in {card.key for card, _context in response.context["cards"]}
    html = response.content.decode()
    assert "Possible duplicates" not in html
    assert reverse("places:duplicates") not in html


def test_counts_follow_the_active_body(client_for, monitor, body, other_body):
    MembershipFactory(user=monitor, body=other_body, role=Role.ANALYST)
    PlaceFactory(body=body)
    client = client_for(monitor)
    session = client.session
    session[SESSION_BODY_KEY] = other_body.pk
    session.save()
    response = client.get(reverse("home"))
    assert counts(response)["places"] == 0
    assert "Another Mechanism" in response.content.decode()


def test_shows_the_users_own_recent_jobs(client_for, monitor, analyst, body):
    Job.objects.create(body=body, created_by=monitor, kind="export", title="My export")
    Job.objects.create(
        body=body,
        created_by=monitor,
        kind="import",
        title="My import",
        status=JobStatus.RUNNING,
        progress_done=5,
        progress_total=10,
    )
    Job.objects.create(body=body, created_by=analyst, kind="export", title="Not mine")
    html = client_for(monitor).get(reverse("home")).content.decode()
    assert "My export" in html
    assert "My import" in html
    assert 'value="50"' in html
    assert "Not mine" not in html


@pytest.mark.parametrize(
    ("role_fixture", "sees_audit"),
    [("head", True), ("auditor", True), ("admin_user", False), ("monitor", False)],
)
def test_latest_audit_entries_for_auditor_and_head(
    request, client_for, body, role_fixture, sees_audit
):
    user = request.getfixturevalue(role_fixture)
    audit(actor=user, action="core.body.update_settings", obj=body)
    html = client_for(user).get(reverse("home")).content.decode()
    assert ("Changed body settings" in html) is sees_audit


def test_user_without_a_body_gets_a_clear_empty_state(client_for):
    loner = UserFactory(username="loner")
    response = client_for(loner).get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "You are not a member of any body yet — ask your administrator." in html
    assert 'class="empty-state"' in html


def test_focal_point_sees_their_dialogue_page_and_no_places(client_for, focal_point, body):
    PlaceFactory(body=body, name="Hidden Detention Centre")
    response = client_for(focal_point).get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "dialogue with the body will appear here" in html
    assert "Hidden Detention Centre" not in html
    assert "cards" not in response.context
    assert reverse("places:list") not in html


def test_home_query_count_does_not_grow_with_data(
    client_for, head, body, django_assert_num_queries
):
    client = client_for(head)
    for _ in range(3):
        audit(actor=head, action="core.body.update_settings", obj=body)
    client.get(reverse("home"))
    # + 1: the unread notifications in the header.
    # The session is no longer written on every request (three queries fewer).
    # One query more than before visits: the visits card counts in one aggregate.
    # + 1: the person's invitations waiting for an answer.
    with django_assert_num_queries(10) as captured:
        client.get(reverse("home"))
    few = len(captured)
    for _ in range(10):
        PlaceFactory(body=body)
        audit(actor=head, action="core.body.update_settings", obj=body)
        Job.objects.create(body=body, created_by=head, kind="export", title="export")
    with django_assert_num_queries(few):
        client.get(reverse("home"))
