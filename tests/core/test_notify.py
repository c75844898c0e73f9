"""Notifications: sent only after commit, only to who may see the object, logged on it; email
only by choice and without content; the header counter, the page, the API; imports use them."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import MembershipFactory, PlaceFactory
from vigil.core import imports
from vigil.core import notify as notify_module
from vigil.core.models import (
    AuditEntry,
    Membership,
    Notification,
    NotificationPreference,
    Role,
    TabularImport,
)
from vigil.core.notify import (
    NotificationKind,
    notify,
    register_notification_kind,
    unread_count,
)
from vigil.core.tasks import run_job

KIND = "tests.place.flagged"


def describe_place(place):
    if place is None:
        return "Something you follow was flagged.", ""
    return f"Place #{place.pk} was flagged.", f"/places/{place.pk}/"


@pytest.fixture
def flagged():
    kind = register_notification_kind(
        NotificationKind(
            key=KIND,
            label="A place was flagged",
            describe=describe_place,
            email_default=True,
            email_text="Something you follow was flagged.",
        )
    )
    yield kind
    notify_module._KINDS.pop(KIND)


@pytest.fixture
def place(body):
    return PlaceFactory(body=body, name="Central Prison")


def notice(recipient: Membership, text: str = "Something happened.", **fields) -> Notification:
    return Notification.objects.create(
        recipient=recipient, kind=KIND, text=text, url="/places/", **fields
    )


# ---------- After commit, and only then ----------


@pytest.mark.django_db
def test_nothing_is_written_or_sent_before_the_commit(
    flagged, place, head_membership, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent_to = notify(KIND, place, [head_membership])
    assert sent_to == [head_membership]
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert not AuditEntry.objects.filter(action="core.notification.send").exists()

    (commit,) = callbacks
    commit()
    notification = Notification.objects.get()
    assert notification.recipient == head_membership
    assert notification.text == f"Place #{place.pk} was flagged."
    assert notification.url == f"/places/{place.pk}/"
    assert notification.object_id == place.pk
    assert notification.read_at is None
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_rolled_back_transaction_sends_nothing(
    flagged, place, head_membership, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notify(KIND, place, [head_membership])
        raise RuntimeError("the service failed after notifying")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert not AuditEntry.objects.filter(action="core.notification.send").exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_test_transaction_it_is_delivered_when_the_block_commits(
    flagged, place, head_membership
):
    with transaction.atomic():
        notify(KIND, place, [head_membership])
        assert not Notification.objects.exists()
    assert Notification.objects.filter(recipient=head_membership).count() == 1


# ---------- Never to someone who may not see the object ----------


@pytest.mark.django_db
def test_a_confidential_member_body_place_reaches_only_its_own_body(
    flagged,
    member_body,
    head_membership,
    regional_membership,
    outsider_membership,
    django_capture_on_commit_callbacks,
):
    confidential = PlaceFactory(body=member_body, is_confidential=True)
    shared = PlaceFactory(body=member_body)
    everyone = [head_membership, regional_membership, outsider_membership]
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(KIND, confidential, everyone) == [regional_membership]
        # The coordinating body sees its member body's other places; another body never.
        assert notify(KIND, shared, everyone) == [head_membership, regional_membership]
    got = set(Notification.objects.values_list("recipient_id", "object_id"))
    assert got == {
        (regional_membership.pk, confidential.pk),
        (regional_membership.pk, shared.pk),
        (head_membership.pk, shared.pk),
    }
    assert outsider_membership.user.email not in [m.to[0] for m in mail.outbox]


@pytest.mark.django_db
def test_an_object_nobody_may_see_is_dropped_not_sent_to_everyone(
    flagged, other_body, head_membership, persona, django_capture_on_commit_callbacks
):
    elsewhere = PlaceFactory(body=other_body)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sent_to = notify(KIND, elsewhere, Membership.objects.all())
    assert sent_to == []
    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert not AuditEntry.objects.filter(action="core.notification.send").exists()


@pytest.mark.django_db
def test_an_import_is_not_told_to_another_body_or_an_external_role(
    head_membership, outsider_membership, persona, django_capture_on_commit_callbacks
):
    imp = imports.import_upload(
        membership=head_membership,
        kind="places",
        upload=SimpleUploadedFile("places.csv", b"Name,Type\r\nA,prison\r\n"),
    )
    focal = persona(Role.AUTHORITY_FOCAL_POINT)
    with django_capture_on_commit_callbacks(execute=True):
        sent_to = notify(
            imports.FINISHED_NOTIFICATION, imp, [outsider_membership, focal, head_membership]
        )
    assert sent_to == [head_membership]
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [head_membership.pk]


@pytest.mark.django_db
def test_inactive_and_repeated_recipients(
    flagged, place, head_membership, persona, django_capture_on_commit_callbacks
):
    monitor = persona(Role.MONITOR)
    Membership.objects.filter(pk=monitor.pk).update(is_active=False)
    monitor.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        sent_to = notify(KIND, place, [head_membership, monitor, head_membership])
    assert sent_to == [head_membership]
    assert Notification.objects.count() == 1


@pytest.mark.django_db
def test_access_lost_after_sending_hides_the_notification(
    flagged, member_body, head_membership, client_for, django_capture_on_commit_callbacks
):
    shared = PlaceFactory(body=member_body)
    with django_capture_on_commit_callbacks(execute=True):
        notify(KIND, shared, [head_membership])
    notification = Notification.objects.get()
    assert unread_count(head_membership) == 1
    # The member body makes the place confidential: the coordinating body no longer sees it.
    type(shared).objects.filter(pk=shared.pk).update(is_confidential=True)
    assert unread_count(head_membership) == 0
    client = client_for(head_membership)
    assert f"Place #{shared.pk}" not in client.get(reverse("notifications")).content.decode()
    response = client.post(reverse("notification_read", args=[notification.pk]))
    assert response.status_code == 404
    api = client.get("/api/v1/notifications/").json()
    assert api["results"] == []


# ---------- Email ----------


@pytest.mark.django_db
def test_the_email_carries_only_the_kind_line_and_an_absolute_link(
    flagged, place, head_membership, settings, django_capture_on_commit_callbacks
):
    settings.VIGIL_BASE_URL = "https://vigil.example.org/"
    settings.DEFAULT_FROM_EMAIL = "vigil@example.org"
    with django_capture_on_commit_callbacks(execute=True):
        notify(KIND, place, [head_membership])
    (message,) = mail.outbox
    assert message.to == [head_membership.user.email]
    assert message.from_email == "vigil@example.org"
    assert message.subject == "Vigil: A place was flagged"
    assert message.body.startswith("Something you follow was flagged.\n\n")
    assert f"https://vigil.example.org/places/{place.pk}/" in message.body
    assert "https://vigil.example.org/notifications/" in message.body
    # Not the in-app line, not the place's name.
    assert "Central Prison" not in message.body + message.subject
    assert f"#{place.pk} was flagged" not in message.body


@pytest.mark.django_db
def test_one_email_per_person(
    flagged, place, head_membership, persona, django_capture_on_commit_callbacks
):
    analyst = persona(Role.ANALYST)
    with django_capture_on_commit_callbacks(execute=True):
        notify(KIND, place, [head_membership, analyst])
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [head_membership.user.email, analyst.user.email]
    )
    assert all(len(message.to) == 1 and not message.cc for message in mail.outbox)


@pytest.mark.django_db
def test_no_email_when_the_preference_is_off_or_there_is_no_address(
    flagged, place, head_membership, persona, django_capture_on_commit_callbacks
):
    analyst = persona(Role.ANALYST)
    monitor = persona(Role.MONITOR)
    NotificationPreference.objects.create(membership=head_membership, kind=KIND, email=False)
    type(monitor.user).objects.filter(pk=monitor.user_id).update(email="")
    monitor.user.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        notify(KIND, place, [head_membership, analyst, monitor])
    assert [message.to for message in mail.outbox] == [[analyst.user.email]]
    # Everyone still has the notice in Vigil.
    assert Notification.objects.count() == 3


@pytest.mark.django_db
def test_a_kind_without_email_by_default_sends_none_until_chosen(
    place, head_membership, django_capture_on_commit_callbacks
):
    register_notification_kind(
        NotificationKind(key="tests.place.quiet", label="Quiet", describe=describe_place)
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            notify("tests.place.quiet", place, [head_membership])
        assert mail.outbox == []
        notify_module.notification_set_preferences(
            membership=head_membership, email={"tests.place.quiet": True}
        )
        with django_capture_on_commit_callbacks(execute=True):
            notify("tests.place.quiet", place, [head_membership])
        assert len(mail.outbox) == 1
    finally:
        notify_module._KINDS.pop("tests.place.quiet")


class BrokenMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


@pytest.mark.django_db
def test_a_mail_server_failure_keeps_the_notice_and_is_logged(
    flagged, place, head_membership, settings, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenMailServer"
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        notify(KIND, place, [head_membership])
    assert Notification.objects.count() == 1
    assert AuditEntry.objects.filter(action="core.notification.send").count() == 1
    assert "Could not email" in caplog.text


# ---------- The log on the object ----------


@pytest.mark.django_db
def test_every_sending_is_logged_on_its_object(
    flagged,
    member_body,
    head_membership,
    regional_membership,
    django_capture_on_commit_callbacks,
):
    shared = PlaceFactory(body=member_body)
    with django_capture_on_commit_callbacks(execute=True):
        notify(KIND, shared, [head_membership, regional_membership], actor=head_membership.user)
    entry = AuditEntry.objects.get(action="core.notification.send")
    assert entry.object_type == "places.place"
    assert entry.object_id == str(shared.pk)
    assert entry.body == member_body
    assert entry.actor == head_membership.user
    assert entry.changes == {"kind": KIND, "recipients": 2}


@pytest.mark.django_db
def test_a_notice_without_object_reaches_an_external_role_and_is_logged_in_its_body(
    flagged, body, persona, client_for, django_capture_on_commit_callbacks
):
    focal = persona(Role.AUTHORITY_FOCAL_POINT)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(KIND, None, [focal]) == [focal]
    entry = AuditEntry.objects.get(action="core.notification.send")
    assert (entry.body, entry.object_type, entry.actor) == (body, "", None)
    assert entry.changes == {"kind": KIND, "recipients": 1}
    client = client_for(focal)
    assert (
        "Something you follow was flagged." in client.get(reverse("notifications")).content.decode()
    )
    assert len(client.get("/api/v1/notifications/").json()["results"]) == 1


# ---------- The registry ----------


def test_kinds_are_named_like_actions_and_unknown_ones_are_refused():
    with pytest.raises(ValueError, match=r"app\.model\.event"):
        register_notification_kind(NotificationKind(key="flagged", label="x", describe=str))
    with pytest.raises(LookupError, match="register_notification_kind"):
        notify("tests.nothing.happened", None, [])


def test_core_registers_the_import_kinds():
    finished = notify_module.notification_kind("core.import.finished")
    failed = notify_module.notification_kind("core.import.failed")
    assert finished.email_default and failed.email_default
    assert str(finished.email_text) == "An import you started has finished."


@pytest.mark.django_db
def test_an_object_without_visibility_rule_is_a_programming_error(flagged, body, head_membership):
    with pytest.raises(LookupError, match="no visibility rule"):
        notify(KIND, body, [head_membership])


# ---------- The header counter ----------


@pytest.mark.django_db
def test_the_header_counts_unread_notifications(head_membership, persona, client_for):
    notice(head_membership)
    notice(head_membership)
    notice(head_membership, read_at=timezone.now())
    notice(persona(Role.MONITOR))
    html = client_for(head_membership).get(reverse("home")).content.decode()
    assert 'href="/notifications/"' in html
    assert '<span aria-hidden="true">(2)</span>' in html
    assert '<span class="visually-hidden">, 2 unread</span>' in html


@pytest.mark.django_db
def test_the_header_shows_no_count_when_all_are_read(head_membership, client_for):
    notice(head_membership, read_at=timezone.now())
    html = client_for(head_membership).get(reverse("home")).content.decode()
    assert 'href="/notifications/"' in html
    assert "unread</span>" not in html


@pytest.mark.django_db
def test_the_count_belongs_to_the_active_body(head_membership, other_body, client_for):
    elsewhere = MembershipFactory(user=head_membership.user, body=other_body, role=Role.MONITOR)
    notice(elsewhere)
    assert unread_count(head_membership) == 0
    assert unread_count(elsewhere) == 1
    api = client_for(head_membership).get(
        "/api/v1/notifications/", HTTP_X_VIGIL_BODY=head_membership.body.slug
    )
    assert api.json()["results"] == []


# ---------- The page ----------


@pytest.mark.django_db
def test_the_list_is_newest_first_with_unread_marked(head_membership, client_for):
    old = notice(head_membership, "The older one.", read_at=timezone.now())
    Notification.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=2)
    )
    notice(head_membership, "The newer one.")
    response = client_for(head_membership).get(reverse("notifications"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("The newer one.") < html.index("The older one.")
    items = html.split('<li class="notification')[1:]
    assert items[0].startswith(' unread"') and "Unread" in items[0]
    assert items[1].startswith('"') and "Unread" not in items[1]
    assert "Mark all as read" in html


@pytest.mark.django_db
def test_the_list_has_an_empty_state(head_membership, client_for):
    html = client_for(head_membership).get(reverse("notifications")).content.decode()
    assert "No notifications" in html
    assert "Mark all as read" not in html


@pytest.mark.django_db
def test_the_list_is_paginated_and_its_query_count_does_not_grow(
    head_membership, client_for, django_assert_num_queries
):
    client = client_for(head_membership)
    for number in range(3):
        notice(head_membership, f"Notice {number}.")
    client.get(reverse("notifications"))
    with django_assert_num_queries(8) as captured:
        client.get(reverse("notifications"))
    few = len(captured)
    for number in range(3, 30):
        notice(head_membership, f"Notice {number}.")
    with django_assert_num_queries(few):
        response = client.get(reverse("notifications"))
    page = response.context["page"]
    assert len(page.object_list) == 25
    assert page.paginator.count == 30
    html = response.content.decode()
    assert "Page 1 of 2" in html and "?page=2" in html
    second = client.get(reverse("notifications") + "?page=2").content.decode()
    assert "Notice 0." in second and "Notice 29." not in second


@pytest.mark.django_db
def test_opening_a_notification_marks_it_read_and_follows_its_link(head_membership, client_for):
    notification = notice(head_membership)
    client = client_for(head_membership)
    assert client.get(reverse("notification_read", args=[notification.pk])).status_code == 405
    response = client.post(reverse("notification_read", args=[notification.pk]))
    assert response.status_code == 302
    assert response["Location"] == "/places/"
    notification.refresh_from_db()
    first_read = notification.read_at
    assert first_read is not None
    client.post(reverse("notification_read", args=[notification.pk]))
    notification.refresh_from_db()
    assert notification.read_at == first_read


@pytest.mark.django_db
def test_a_link_to_another_site_is_not_followed(head_membership, client_for):
    notification = notice(head_membership)
    Notification.objects.filter(pk=notification.pk).update(url="https://evil.example/")
    response = client_for(head_membership).post(
        reverse("notification_read", args=[notification.pk])
    )
    assert response["Location"] == reverse("notifications")


@pytest.mark.django_db
def test_another_members_notification_is_404(
    head_membership, persona, outsider_membership, client_for
):
    theirs = notice(persona(Role.MONITOR))
    for member in (head_membership, outsider_membership):
        response = client_for(member).post(reverse("notification_read", args=[theirs.pk]))
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    with pytest.raises(PermissionDenied):
        notify_module.notification_mark_read(membership=head_membership, notification=theirs)


@pytest.mark.django_db
def test_mark_all_as_read_touches_only_ones_own(head_membership, persona, client_for):
    notice(head_membership)
    notice(head_membership)
    theirs = notice(persona(Role.MONITOR))
    client = client_for(head_membership)
    assert client.get(reverse("notifications_read_all")).status_code == 405
    response = client.post(reverse("notifications_read_all"), follow=True)
    assert "2 notifications marked as read." in response.content.decode()
    assert unread_count(head_membership) == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
def test_email_choices_are_saved_per_kind(flagged, head_membership, client_for):
    client = client_for(head_membership)
    html = client.get(reverse("notifications")).content.decode()
    assert 'id="id_email-tests-place-flagged"' in html
    assert 'for="id_email-core-import-finished"' in html
    # Unticking "A place was flagged", keeping the import kinds.
    response = client.post(
        reverse("notification_preferences"),
        {"email-core-import-finished": "on", "email-core-import-failed": "on"},
    )
    assert response.status_code == 302
    chosen = notify_module.email_preferences(head_membership)
    assert {key: chosen[key] for key in ("core.import.finished", "core.import.failed", KIND)} == {
        "core.import.finished": True,
        "core.import.failed": True,
        KIND: False,
    }
    # Kinds of other apps not on the form are unticked too (the form lists every kind).
    assert not any(value for key, value in chosen.items() if key.startswith("visits."))
    form = client.get(reverse("notifications")).context["form"]
    assert form["email-tests-place-flagged"].value() is False
    assert form["email-core-import-finished"].value() is True


@pytest.mark.django_db
def test_unknown_kinds_cannot_be_chosen(head_membership):
    with pytest.raises(ValidationError, match=r"Unknown kind of notification: x\.y\.z"):
        notify_module.notification_set_preferences(
            membership=head_membership, email={"core.import.failed": False, "x.y.z": True}
        )
    assert not NotificationPreference.objects.exists()


@pytest.mark.django_db
def test_the_page_is_translated(head_membership, client_for):
    notice(head_membership)
    html = (
        client_for(head_membership)
        .get(reverse("notifications"), HTTP_ACCEPT_LANGUAGE="fr")
        .content.decode()
    )
    assert "Tout marquer comme lu" in html
    assert "Notifications par e-mail" in html
    assert ", 1 non lue(s)" in html


# ---------- API ----------


@pytest.mark.django_db
def test_the_api_lists_only_ones_own(head_membership, persona, client_for):
    mine = notice(head_membership, "Mine.")
    read = notice(head_membership, "Read.", read_at=timezone.now())
    notice(persona(Role.MONITOR), "Theirs.")
    client = client_for(head_membership)
    response = client.get("/api/v1/notifications/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["id"] for item in results] == [read.pk, mine.pk]
    assert results[1]["text"] == "Mine."
    assert results[1]["is_read"] is False
    assert results[1]["kind"] == KIND
    unread = client.get("/api/v1/notifications/?unread=true").json()["results"]
    assert [item["id"] for item in unread] == [mine.pk]


@pytest.mark.django_db
def test_the_api_marks_read_and_another_members_is_404(head_membership, persona, client_for):
    mine = notice(head_membership)
    theirs = notice(persona(Role.MONITOR))
    client = client_for(head_membership)
    response = client.post(f"/api/v1/notifications/{mine.pk}/read/")
    assert response.status_code == 200
    assert response.json()["is_read"] is True
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    assert client.get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
def test_the_api_marks_all_read(head_membership, client_for):
    notice(head_membership)
    notice(head_membership)
    response = client_for(head_membership).post("/api/v1/notifications/read-all/")
    assert response.json() == {"marked_read": 2}
    assert unread_count(head_membership) == 0


def test_the_api_is_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "/api/v1/notifications/{id}/read/" in schema["paths"]
    assert "/api/v1/notifications/" in schema["paths"]


# ---------- Imports tell the person who started them ----------


def places_csv(rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["Name", "Type", "Address", "Capacity"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


def start_import(membership, data: bytes, name: str, mode: str = "valid") -> TabularImport:
    imp = imports.import_upload(
        membership=membership, kind="places", upload=SimpleUploadedFile(name, data)
    )
    return imports.import_start(membership=membership, imp=imp, mode=mode)


@pytest.mark.django_db
def test_a_finished_import_notifies_its_starter_in_vigil_and_by_email(
    body, head_membership, persona, settings, django_capture_on_commit_callbacks
):
    settings.VIGIL_BASE_URL = "https://vigil.example.org"
    persona(Role.ANALYST)  # another member who may import: not told
    rows = [
        ["Central Prison", "prison", "1 Main Street", "500"],
        ["Harbour Police Station", "Police custody", "2 Quay", "20"],
        ["St Anne Hospital", "psychiatric-hospital", "3 Hill Road", "lots"],
    ]
    imp = start_import(head_membership, places_csv(rows), "detainees-north-2024.csv")
    with django_capture_on_commit_callbacks(execute=True):
        run_job.call(imp.job_id)
    imp.refresh_from_db()
    assert imp.status == TabularImport.Status.DONE

    notification = Notification.objects.get()
    assert notification.recipient == head_membership
    assert notification.kind == "core.import.finished"
    assert notification.text == (
        "Your import of “detainees-north-2024.csv” finished: 2 records created, 1 row rejected."
    )
    assert notification.url == reverse("import_detail", args=[imp.pk])
    assert notification.object_id == imp.pk

    (message,) = mail.outbox
    assert message.to == [head_membership.user.email]
    assert "An import you started has finished." in message.body
    assert f"https://vigil.example.org/imports/{imp.pk}/" in message.body
    assert "detainees" not in message.body + message.subject
    assert "Central Prison" not in message.body

    entry = AuditEntry.objects.get(action="core.notification.send")
    assert (entry.object_type, entry.object_id) == ("core.tabularimport", str(imp.pk))
    assert entry.changes == {"kind": "core.import.finished", "recipients": 1}


@pytest.mark.django_db
def test_an_import_that_imported_nothing_says_so(
    head_membership, django_capture_on_commit_callbacks
):
    rows = [["Central Prison", "prison", "1 Main Street", "lots"]]
    imp = start_import(head_membership, places_csv(rows), "north.csv", mode="all")
    with django_capture_on_commit_callbacks(execute=True):
        run_job.call(imp.job_id)
    assert Notification.objects.get().text == (
        "Your import of “north.csv” imported nothing: 1 row has errors."
    )


@pytest.mark.django_db
def test_a_failed_import_notifies_its_starter(head_membership, django_capture_on_commit_callbacks):
    imp = start_import(head_membership, places_csv([["A", "prison", "1 Street", ""]]), "a.csv")
    # The head became a monitor meanwhile: the job refuses to import, and says so.
    Membership.objects.filter(pk=head_membership.pk).update(role=Role.MONITOR)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        run_job.call(imp.job_id)
    notification = Notification.objects.get()
    assert notification.kind == "core.import.failed"
    assert notification.text == "Your import of “a.csv” failed: nothing was imported."
    (message,) = mail.outbox
    assert "An import you started has failed." in message.body
    assert "a.csv" not in message.body


@pytest.mark.django_db
def test_the_import_notice_follows_the_starters_choice(
    head_membership, django_capture_on_commit_callbacks
):
    notify_module.notification_set_preferences(
        membership=head_membership, email={"core.import.finished": False}
    )
    imp = start_import(head_membership, places_csv([["A", "prison", "1 Street", ""]]), "a.csv")
    with django_capture_on_commit_callbacks(execute=True):
        run_job.call(imp.job_id)
    assert Notification.objects.filter(kind="core.import.finished").count() == 1
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_the_job_runner_delivers_after_its_own_commit(body, head_membership):
    """No test transaction around it: what the worker process does."""
    imp = start_import(head_membership, places_csv([["A", "prison", "1 Street", ""]]), "a.csv")
    run_job.call(imp.job_id)
    notification = Notification.objects.get(recipient=head_membership)
    assert notification.text == "Your import of “a.csv” finished: 1 record created."
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_starter_whose_account_is_gone_is_not_notified(
    head_membership, django_capture_on_commit_callbacks
):
    imp = start_import(head_membership, places_csv([["A", "prison", "1 Street", ""]]), "a.csv")
    TabularImport.objects.filter(pk=imp.pk).update(created_by=None)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        # Without its starter the job cannot check the role: it fails, and tells nobody.
        run_job.call(imp.job_id)
    assert TabularImport.objects.get(pk=imp.pk).status == TabularImport.Status.FAILED
    assert not Notification.objects.exists()
