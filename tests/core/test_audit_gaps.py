"""Acts the audit trail used to miss: downloading an import's rejected rows, large pages read
through the API, a second factor accepted, and failed sign-ins of unknown usernames, which are
written to no body's trail and are shown to the auditors of the body whose addresses they came
from."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from tests.core.test_otp import code_for, wrong_code_for
from tests.factories import PASSWORD, PlaceFactory, RegionFactory
from tests.places.test_import import rows_csv, run_import
from vigil.core import imports
from vigil.core.audit import action_label, build_entry, registered_actions
from vigil.core.audit_chain import verify
from vigil.core.guard import MemberViewSetMixin
from vigil.core.models import ApiToken, AuditEntry, AuthenticatorDevice, TabularImport

pytestmark = pytest.mark.django_db

OFFICE = "198.51.100.7"
ELSEWHERE = "203.0.113.5"


def api(user) -> APIClient:
    client = APIClient()
    _token, key = ApiToken.issue(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def sign_in(address: str, username: str, password: str) -> int:
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code


# ---------- Rejected rows of an import ----------


def test_downloading_the_rejected_rows_is_recorded(client_for, head_membership, body):
    rows = [
        ["P-1", "Central Prison", "prison", "", "1 Main", "500", "", "", "", ""],
        ["P-2", "Harbour Station", "prison", "", "2 Quay", "lots", "", "", "", ""],
        ["P-3", "Hill Hospital", "prison", "", "3 Hill", "many", "", "", "", ""],
    ]
    imp = run_import(head_membership, rows_csv(rows), mode="valid")
    assert imp.status == TabularImport.Status.DONE
    assert not AuditEntry.objects.filter(action="core.import.download_rejected").exists()

    response = client_for(head_membership).get(reverse("import_rejected", args=[imp.pk]))
    assert response.status_code == 200
    assert "Harbour Station" in response.content.decode("utf-8-sig")
    entry = AuditEntry.objects.get(action="core.import.download_rejected")
    assert entry.actor == head_membership.user
    assert entry.body == body
    assert (entry.object_type, entry.object_id) == ("core.tabularimport", str(imp.pk))
    assert entry.changes == {"rows": 2}
    assert action_label(entry.action) == "Downloaded the rejected rows of an import"


def test_the_rejected_rows_service_refuses_another_body(head_membership, outsider_membership):
    rows = [["P-1", "Central Prison", "prison", "", "1 Main", "lots", "", "", "", ""]]
    imp = run_import(head_membership, rows_csv(rows), mode="valid")
    with pytest.raises(PermissionDenied):
        imports.import_rejected_rows(membership=outsider_membership, imp=imp)
    assert not AuditEntry.objects.filter(action="core.import.download_rejected").exists()


# ---------- Large pages read through the API ----------


def test_a_page_of_more_than_100_places_is_recorded_with_its_size_and_filters(body, head):
    PlaceFactory.create_batch(3, body=body)
    client = api(head)
    assert client.get("/api/v1/places/", {"page_size": 100}).status_code == 200
    assert client.get("/api/v1/places/").status_code == 200
    assert not AuditEntry.objects.filter(action="places.place.list_api").exists()

    response = client.get("/api/v1/places/", {"page_size": 101, "status": "open"})
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="places.place.list_api")
    assert entry.actor == head
    assert entry.body == body
    assert entry.changes == {"page_size": 101, "returned": 3, "filters": "status=open"}
    # The next page of the same reading is recorded again: each page is a read.
    assert client.get("/api/v1/places/", {"page_size": 500}).status_code == 200
    assert list(
        AuditEntry.objects.filter(action="places.place.list_api")
        .order_by("pk")
        .values_list("changes__page_size", flat=True)
    ) == [101, 500]


def test_the_threshold_is_a_setting(settings, body, head):
    settings.VIGIL_AUDIT_API_PAGE_SIZE = 2
    PlaceFactory.create_batch(3, body=body)
    client = api(head)
    assert client.get("/api/v1/places/", {"page_size": 2}).status_code == 200
    assert not AuditEntry.objects.filter(action="places.place.list_api").exists()
    assert client.get("/api/v1/places/", {"page_size": 3}).status_code == 200
    assert AuditEntry.objects.get(action="places.place.list_api").changes["page_size"] == 3


def test_an_unpaginated_api_list_counts_the_records_it_sends(settings, body, head):
    settings.VIGIL_AUDIT_API_PAGE_SIZE = 2
    RegionFactory.create_batch(2, body=body)
    client = api(head)
    assert len(client.get("/api/v1/regions/").json()) == 2
    assert not AuditEntry.objects.filter(action="places.region.list_api").exists()
    RegionFactory(body=body)
    assert len(client.get("/api/v1/regions/").json()) == 3
    entry = AuditEntry.objects.get(action="places.region.list_api")
    assert entry.changes == {"page_size": 3, "returned": 3, "filters": ""}
    assert all(report.intact for report in verify())


def _member_viewsets() -> set[type]:
    get_resolver().url_patterns  # noqa: B018  (imports every API module)
    found: set[type] = set()
    pending = list(MemberViewSetMixin.__subclasses__())
    while pending:
        viewset = pending.pop()
        found.add(viewset)
        pending.extend(viewset.__subclasses__())
    return {viewset for viewset in found if hasattr(viewset, "list") and hasattr(viewset, "model")}


def test_every_api_list_has_a_label_for_its_large_pages():
    """A large page of an API without the label would fail instead of being recorded."""
    viewsets = _member_viewsets()
    assert {viewset.__name__ for viewset in viewsets} >= {"PlaceViewSet", "RegionViewSet"}
    missing = []
    for viewset in viewsets:
        meta = viewset.model._meta
        action = f"{meta.app_label}.{meta.model_name}.list_api"
        if action not in registered_actions():
            missing.append(f"{viewset.__name__}: {action}")
    assert missing == []


# ---------- The second factor ----------


@pytest.fixture
def requiring_body(body):
    body.require_totp = True
    body.save(update_fields=["require_totp"])
    return body


def test_an_accepted_second_factor_is_recorded_after_the_sign_in(
    client_for, monitor, requiring_body, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = AuthenticatorDevice.objects.create(user=monitor, name="phone", confirmed=True)
    client = client_for(monitor)
    client.post(reverse("otp_verify"), {"token": wrong_code_for(device), "next": "/"})
    assert not AuditEntry.objects.filter(action="core.otp.verify").exists()
    response = client.post(reverse("otp_verify"), {"token": code_for(device), "next": "/"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="core.otp.verify")
    assert entry.actor == monitor
    assert entry.body == requiring_body
    assert action_label(entry.action) == "Confirmed a sign-in with a two-factor code"
    # Verified once, the page sends the person on without recording again.
    client.get(reverse("otp_verify"))
    assert AuditEntry.objects.filter(action="core.otp.verify").count() == 1


# ---------- Failed sign-ins of unknown usernames ----------


def unknown_section(response) -> str:
    html = response.content.decode()
    start = html.find('<section class="unknown-signins"')
    return html[start : html.index("</section>", start)] if start >= 0 else ""


def test_unknown_usernames_tried_from_the_bodys_addresses_are_shown_to_its_auditors(
    client_for, auditor, monitor, outsider, body
):
    assert sign_in(OFFICE, "monitor", PASSWORD) == 302
    assert sign_in(OFFICE, "admn", "guess-one") == 200
    assert sign_in(ELSEWHERE, "root", "guess-two") == 200
    # A member of another body signing in from elsewhere makes no address of theirs the
    # national body's.
    assert sign_in(ELSEWHERE, "outsider", PASSWORD) == 302
    failures = AuditEntry.objects.filter(action="core.user.login_failed")
    assert set(failures.values_list("body", flat=True)) == {None}

    response = client_for(auditor).get(reverse("audit"))
    section = unknown_section(response)
    assert "Failed sign-ins with unknown usernames from this body" in section
    assert "not in this body" in section
    assert "admn" in section
    assert OFFICE in section
    assert "root" not in section
    assert 'href="#unknown-signins-title"' in response.content.decode()
    # Apart from the body's own trail, which holds only its own entries.
    assert {entry.body_id for entry in response.context["page"].object_list} == {body.pk}

    # The other body's head reads their own trail: the office address is not theirs.
    other = client_for(outsider).get(reverse("audit"))
    assert "root" in unknown_section(other)
    assert "admn" not in unknown_section(other)


def test_only_addresses_used_in_the_last_30_days_count(client_for, auditor, monitor, body):
    old = build_entry(actor=monitor, action="core.user.login", obj=monitor, body=body)
    old.created_at = timezone.now() - datetime.timedelta(days=31)
    old.ip_address = OFFICE
    old.save(force_insert=True)
    assert sign_in(OFFICE, "admn", "guess-one") == 200
    response = client_for(auditor).get(reverse("audit"))
    assert unknown_section(response) == ""
    assert "unknown-signins-title" not in response.content.decode()

    assert sign_in(OFFICE, "monitor", PASSWORD) == 302
    assert "admn" in unknown_section(client_for(auditor).get(reverse("audit")))


def test_the_section_is_translated(client_for, auditor, monitor, body):
    assert sign_in(OFFICE, "monitor", PASSWORD) == 302
    assert sign_in(OFFICE, "admn", "guess-one") == 200
    client = client_for(auditor)
    with translation.override("fr"):
        response = client.get(reverse("audit"), HTTP_ACCEPT_LANGUAGE="fr")
    section = unknown_section(response)
    assert "Connexions échouées avec des noms d" in section
    assert "au cours des 30 derniers jours" in section
    assert "utilisateur essayé" in section
