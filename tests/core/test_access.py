"""core.access: the visibility registry, external roles, need-to-know and grants, existence
versus content, and the grants page and API."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import PlaceFactory, RegionFactory
from tests.testapp.models import Note
from vigil.core import grants
from vigil.core.access import can_see, get_visible_or_404, visible
from vigil.core.models import AccessGrant, AuditEntry, Role
from vigil.places.models import Place, Region

pytestmark = pytest.mark.django_db


def in_days(days: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=days)


@pytest.fixture
def note(body) -> Note:
    return Note.objects.create(body=body, title="Team-only note", is_restricted=True)


# ---------- Lookups ----------


@pytest.mark.parametrize("bad_id", ["abc", "", None, "1.5", 2**70, "-1", "%00"])
def test_malformed_ids_answer_404_never_500(head_membership, bad_id):
    with pytest.raises(Http404):
        get_visible_or_404(head_membership, Place, bad_id)


def test_malformed_id_on_a_page_is_404(client_for, head):
    assert client_for(head).get("/places/99999999999999999999/").status_code == 404


def test_a_model_without_a_rule_is_refused_loudly(head_membership):
    with pytest.raises(LookupError, match="register_visibility"):
        visible(head_membership, AuditEntry)


# ---------- External roles see nothing by default ----------


def test_focal_point_sees_no_region_and_no_place(body, persona):
    focal = persona(Role.AUTHORITY_FOCAL_POINT)
    region = RegionFactory(body=body)
    place = PlaceFactory(body=body)
    assert not visible(focal, Region).exists()
    assert not can_see(focal, region) and not can_see(focal, place)
    api = APIClient()
    api.force_authenticate(focal.user)
    assert api.get("/api/v1/regions/").status_code == 404


def test_an_inactive_membership_sees_nothing(body, persona):
    monitor = persona(Role.MONITOR)
    place = PlaceFactory(body=body)
    monitor.is_active = False
    assert not can_see(monitor, place)


# ---------- Need-to-know ----------


def test_a_restricted_record_is_seen_by_heads_and_holders_only(body, persona, note):
    head, monitor, analyst = persona(Role.HEAD), persona(Role.MONITOR), persona(Role.ANALYST)
    note.holders.add(monitor)
    Note.objects.create(body=body, title="Open note")
    assert can_see(head, note)
    assert can_see(monitor, note)
    assert not can_see(analyst, note)
    assert [n.title for n in visible(analyst, Note)] == ["Open note"]
    with pytest.raises(Http404):
        get_visible_or_404(analyst, Note, note.pk)


def test_existence_and_content_are_separate(body, persona):
    leader, monitor = persona(Role.VISIT_LEADER), persona(Role.MONITOR)
    sealed = Note.objects.create(body=body, title="Sealed interview", is_sealed=True)
    sealed.holders.add(leader)
    assert can_see(monitor, sealed)
    assert not can_see(monitor, sealed, content=True)
    assert can_see(leader, sealed, content=True)
    with pytest.raises(Http404):
        get_visible_or_404(monitor, Note, sealed.pk, content=True)


# ---------- Grants ----------


def test_a_grant_opens_a_record_until_it_ends_and_is_audited(head_membership, persona, note):
    analyst = persona(Role.ANALYST)
    assert not can_see(analyst, note)
    grant = grants.grant_create(
        membership=head_membership,
        grantee=analyst,
        obj=note,
        reason="Writes the thematic report on solitary confinement",
        expires_at=in_days(7),
    )
    assert can_see(analyst, note)
    entry = AuditEntry.objects.get(action="core.grant.create", object_id=str(grant.pk))
    assert entry.actor == head_membership.user
    assert entry.changes["grantee"] == [None, "analyst"]
    # Expired: the grant ends by itself.
    AccessGrant.objects.filter(pk=grant.pk).update(expires_at=in_days(-1 / 24))
    assert not can_see(analyst, note)


def test_a_revoked_grant_closes_the_record_and_is_audited(head_membership, persona, note):
    analyst = persona(Role.ANALYST)
    grant = grants.grant_create(
        membership=head_membership,
        grantee=analyst,
        obj=note,
        reason="Review",
        expires_at=in_days(3),
    )
    grants.grant_revoke(membership=head_membership, grant=grant)
    assert not can_see(analyst, note)
    assert AuditEntry.objects.filter(action="core.grant.revoke", object_id=str(grant.pk)).exists()
    with pytest.raises(ValidationError, match="already revoked"):
        grants.grant_revoke(membership=head_membership, grant=grant)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expires_at": -1}, "expires_at"),
        ({"expires_at": 400}, "expires_at"),
        ({"reason": "   "}, "reason"),
        ({"grantee": "outsider"}, "grantee"),
    ],
)
def test_a_bad_grant_says_why_and_changes_nothing(
    head_membership, persona, outsider_membership, note, change, field
):
    values = {
        "grantee": persona(Role.ANALYST),
        "reason": "Needs it",
        "expires_at": in_days(5),
    }
    if "expires_at" in change:
        values["expires_at"] = in_days(change["expires_at"])
    if "reason" in change:
        values["reason"] = change["reason"]
    if "grantee" in change:
        values["grantee"] = outsider_membership
    with pytest.raises(ValidationError) as error:
        grants.grant_create(membership=head_membership, obj=note, **values)
    assert field in error.value.message_dict
    assert not AccessGrant.objects.exists()
    assert not AuditEntry.objects.filter(action="core.grant.create").exists()


def test_only_a_head_gives_grants(persona, note):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        grants.grant_create(
            membership=persona(Role.VISIT_LEADER),
            grantee=persona(Role.ANALYST),
            obj=note,
            reason="x",
            expires_at=in_days(1),
        )


def test_a_grant_cannot_open_another_bodys_record(outsider_membership, personas, note):
    with pytest.raises(ValidationError) as error:
        grants.grant_target(
            membership=outsider_membership, object_type="testapp.note", object_id=note.pk
        )
    assert "object_id" in error.value.message_dict


def test_grants_page_gives_lists_and_revokes(client_for, head, persona, note):
    analyst = persona(Role.ANALYST)
    client = client_for(head)
    page = client.get(reverse("grants"))
    assert page.status_code == 200
    assert "No grant is in force" in page.content.decode()
    ends = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    response = client.post(
        reverse("grants"),
        {
            "object_type": "testapp.note",
            "object_id": note.pk,
            "grantee": analyst.pk,
            "reason": "Prepares the follow-up visit",
            "ends_on": ends,
        },
    )
    assert response.status_code == 302
    grant = AccessGrant.objects.get()
    assert grant.grantee == analyst and grant.is_live
    html = client.get(reverse("grants")).content.decode()
    assert "Prepares the follow-up visit" in html
    assert client.post(reverse("grant_revoke", args=[grant.pk])).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None


def test_grants_page_keeps_what_was_typed_on_an_error(client_for, head, persona, note):
    response = client_for(head).post(
        reverse("grants"),
        {
            "object_type": "testapp.note",
            "object_id": note.pk,
            "grantee": persona(Role.ANALYST).pk,
            "reason": "Keeps this reason",
            "ends_on": "2001-01-01",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "The end date is in the past" in html
    assert "Keeps this reason" in html
    assert not AccessGrant.objects.exists()


@pytest.mark.parametrize("role", [r for r in Role if r != Role.HEAD])
def test_grants_page_is_for_heads(client_for, persona, role):
    status = client_for(persona(role).user).get(reverse("grants")).status_code
    assert status == 403


def test_grants_api(head_membership, persona, note):
    analyst = persona(Role.ANALYST)
    api = APIClient()
    api.force_authenticate(head_membership.user)
    response = api.post(
        "/api/v1/grants/",
        {
            "grantee": analyst.pk,
            "object_type": "testapp.note",
            "object_id": note.pk,
            "reason": "Writes the annual report",
            "expires_at": in_days(2).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    grant_id = response.json()["id"]
    assert api.get("/api/v1/grants/").json()["results"][0]["id"] == grant_id
    # The grantee sees their own grant; another member sees none.
    api.force_authenticate(analyst.user)
    assert [g["id"] for g in api.get("/api/v1/grants/").json()["results"]] == [grant_id]
    assert api.post(f"/api/v1/grants/{grant_id}/revoke/").status_code == 403
    api.force_authenticate(persona(Role.MONITOR).user)
    assert api.get("/api/v1/grants/").json()["results"] == []
    assert api.get(f"/api/v1/grants/{grant_id}/").status_code == 404
    api.force_authenticate(head_membership.user)
    assert api.post(f"/api/v1/grants/{grant_id}/revoke/").json()["is_live"] is False


# ---------- The audit trail follows the rules ----------


def test_the_trail_withholds_a_restricted_record_from_an_auditor(client_for, body, persona, note):
    from vigil.core.audit import audit

    head, auditor = persona(Role.HEAD), persona(Role.AUDITOR)
    audit(actor=head.user, action="testapp.note.create", obj=note, changes={"title": [None, "x"]})
    html = client_for(auditor).get(reverse("audit")).content.decode()
    assert "created a note" in html  # that the entry exists, its action and actor...
    assert "restricted record" in html
    assert "Team-only note" not in html  # ...never the record's name or changes
    csv = b"".join(client_for(auditor).get(reverse("audit_export")).streaming_content).decode()
    assert "created a note" in csv and "Team-only note" not in csv
    searched = client_for(auditor).get(reverse("audit"), {"q": "Team-only"})
    assert list(searched.context["page"].object_list) == []
    # A head is not restricted: the full entry shows.
    assert "Team-only note" in client_for(head).get(reverse("audit")).content.decode()
    # A grant lets the auditor read it in full.
    grants.grant_create(
        membership=head, grantee=auditor, obj=note, reason="Audit of access", expires_at=in_days(1)
    )
    assert "Team-only note" in client_for(auditor).get(reverse("audit")).content.decode()


def test_worker_audit_entries_carry_the_address_of_the_request(body, head_membership):
    from vigil.core.audit import reset_request_ip, set_request_ip
    from vigil.core.tasks import job_runner, run_job, start_job

    @job_runner("tests.audited")
    def audited(job):  # type: ignore[no-untyped-def]
        from vigil.core.audit import audit

        audit(actor=job.created_by, action="core.body.read", obj=job.body)
        return {}

    token = set_request_ip("203.0.113.7")
    try:
        job = start_job(actor=head_membership.user, body=body, kind="tests.audited", title="x")
    finally:
        reset_request_ip(token)
    run_job.call(job.pk)
    assert AuditEntry.objects.get(action="core.body.read").ip_address == "203.0.113.7"
