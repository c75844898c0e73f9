"""The deadline job on a frozen clock: a reminder before the response is due, the overdue mark
the day after, escalation to the parent authority and the heads after the set delay, the
implementation review; each message once, each logged on the recommendation."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from tests.recommendations.conftest import focal_member, issue, link
from vigil.core.models import AuditEntry, Notification
from vigil.recommendations import services
from vigil.recommendations.deadlines import run_deadlines
from vigil.recommendations.models import MessageKind, Position, SentMessage

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 1, 5)


class Clock:
    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        self.set(START)

    def set(self, day: datetime.date) -> None:
        moment = datetime.datetime.combine(day, datetime.time(9), tzinfo=datetime.UTC)
        self.monkeypatch.setattr(timezone, "now", lambda: moment)
        self.today = day

    def days(self, count: int) -> datetime.date:
        return START + datetime.timedelta(days=count)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def run(clock, day, capture):
    clock.set(day)
    with capture(execute=True):
        return run_deadlines()


def kinds(recommendation):
    return sorted(
        SentMessage.objects.filter(recommendation=recommendation).values_list("kind", flat=True)
    )


def test_reminder_overdue_escalation_and_review(
    clock,
    writer,
    focal,
    head_membership,
    directory,
    place,
    body,
    django_capture_on_commit_callbacks,
):
    parent_focal = focal_member(body, "ministry-focal")
    link(head_membership, parent_focal, directory["ministry"], include_subordinates=True)
    recommendation = issue(writer, directory["service"], places=[place], issued_on=START)
    answered = issue(writer, directory["service"], places=[place], issued_on=START, text="Other.")
    services.recommendation_set_position(
        membership=focal, recommendation=answered, position=Position.ACCEPTED
    )
    assert recommendation.response_due == clock.days(28)

    assert run(clock, clock.days(10), django_capture_on_commit_callbacks) == {}
    sent = run(clock, clock.days(21), django_capture_on_commit_callbacks)
    assert sent == {MessageKind.RESPONSE_REMINDER: 1}
    assert (
        Notification.objects.filter(
            recipient=focal, kind="recommendations.recommendation.reminder"
        ).count()
        == 1
    )
    # The prison service has no address of its own; its focal point is emailed.
    assert [message.to for message in mail.outbox] == [[focal.user.email]]
    # Running again the same or the next day sends nothing new.
    assert run(clock, clock.days(22), django_capture_on_commit_callbacks) == {}

    sent = run(clock, clock.days(29), django_capture_on_commit_callbacks)
    assert sent == {MessageKind.OVERDUE: 1}
    recommendation.refresh_from_db()
    assert recommendation.overdue_since == clock.days(29)

    assert run(clock, clock.days(29 + 13), django_capture_on_commit_callbacks) == {}
    mail.outbox.clear()
    sent = run(clock, clock.days(29 + 14), django_capture_on_commit_callbacks)
    assert sent == {MessageKind.ESCALATION: 1}
    recommendation.refresh_from_db()
    assert recommendation.escalated_on == clock.days(43)
    assert Notification.objects.filter(
        recipient=head_membership, kind="recommendations.recommendation.escalated"
    ).exists()
    assert Notification.objects.filter(
        recipient=parent_focal, kind="recommendations.recommendation.escalated_authority"
    ).exists()
    # The parent ministry's own address gets a plain message too.
    assert any("moj@example.org" in message.to for message in mail.outbox)
    escalation = SentMessage.objects.get(recommendation=recommendation, kind="escalation")
    assert "moj@example.org" in escalation.recipients and "head" in escalation.recipients
    assert run(clock, clock.days(44), django_capture_on_commit_callbacks) == {}

    # The answered one was never overdue; both come up for review after six months.
    assert kinds(answered) == []
    sent = run(clock, datetime.date(2026, 7, 5), django_capture_on_commit_callbacks)
    assert sent == {MessageKind.REVIEW_DUE: 2}
    actions = set(
        AuditEntry.objects.filter(object_id=str(recommendation.pk)).values_list("action", flat=True)
    )
    assert {
        "recommendations.recommendation.remind",
        "recommendations.recommendation.mark_overdue",
        "recommendations.recommendation.escalate",
    } <= actions


def test_an_answer_lifts_the_overdue_mark(
    clock, writer, focal, directory, place, django_capture_on_commit_callbacks
):
    recommendation = issue(writer, directory["service"], places=[place], issued_on=START)
    run(clock, clock.days(30), django_capture_on_commit_callbacks)
    recommendation.refresh_from_db()
    assert recommendation.overdue_since is not None
    services.recommendation_set_position(
        membership=focal, recommendation=recommendation, position=Position.ACCEPTED
    )
    recommendation.refresh_from_db()
    assert recommendation.overdue_since is None
    # Nothing to escalate any more.
    assert run(clock, clock.days(60), django_capture_on_commit_callbacks) == {}


def test_a_focal_point_of_another_authority_is_never_told(
    clock, writer, health_focal, directory, place, django_capture_on_commit_callbacks
):
    issue(writer, directory["service"], places=[place], issued_on=START)
    run(clock, clock.days(21), django_capture_on_commit_callbacks)
    run(clock, clock.days(29), django_capture_on_commit_callbacks)
    assert not Notification.objects.filter(recipient=health_focal).exists()


def test_the_command(clock, writer, directory, place, capsys):
    issue(writer, directory["service"], places=[place], issued_on=START)
    call_command("recommendation_deadlines", "--today", clock.days(21).isoformat())
    assert "response_reminder: 1" in capsys.readouterr().out
