"""The nightly deadline job: reminders before a deadline, the overdue mark, escalation to the
parent authority and the body's heads after a set delay, and the implementation review.

Every message sent is logged on the recommendation (`SentMessage`, one per kind and deadline),
so the job can run as often as wanted and never sends the same message twice. It reads only
the rows whose deadlines fall in its window, through the list's indexes.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from vigil.core.audit import audit
from vigil.core.models import Body, Membership
from vigil.core.notify import notify
from vigil.recommendations.models import (
    CLOSED_ASSESSMENTS,
    MessageKind,
    Position,
    Recommendation,
    SentMessage,
)
from vigil.recommendations.queries import settings_for
from vigil.recommendations.services import focal_points_for, heads_of, staff_to_tell

logger = logging.getLogger(__name__)


def _email_authority(recommendation: Recommendation, address: str, subject: str) -> bool:
    """A plain email to an authority's address (it may have no focal point in Vigil): the
    reference and the deadline, never the content of the body's work."""
    if not address:
        return False
    body = recommendation.body
    text = _(
        "%(body)s reminds you of its recommendation %(reference)s to %(authority)s, issued on "
        "%(issued)s; the response was due on %(due)s."
    ) % {
        "body": body.name,
        "reference": recommendation.reference or f"#{recommendation.pk}",
        "authority": recommendation.authority.name,
        "issued": recommendation.issued_on.isoformat(),
        "due": recommendation.response_due.isoformat(),
    }
    try:
        send_mail(subject, text + "\n", settings.DEFAULT_FROM_EMAIL, [address])
    except Exception:
        logger.exception("Could not email authority of recommendation %s", recommendation.pk)
        return False
    return True


def _names(members: Iterable[Membership]) -> list[str]:
    return sorted({member.user.get_username() for member in members})


@transaction.atomic
def _send(
    recommendation: Recommendation,
    kind: str,
    due_on: datetime.date,
    *,
    today: datetime.date,
) -> bool:
    """Send one kind of message about one deadline, once. Returns whether it was sent now."""
    try:
        with transaction.atomic():
            log = SentMessage.objects.create(
                recommendation=recommendation, kind=kind, due_on=due_on
            )
    except IntegrityError:
        return False  # another run sent it
    recipients: list[str] = []
    changes: dict[str, Any] = {"kind": [None, kind], "due_on": [None, due_on]}
    action = "recommendations.recommendation.remind"
    fields = ["version"]
    if kind in (MessageKind.RESPONSE_REMINDER, MessageKind.IMPLEMENTATION_REMINDER):
        recipients += _names(
            notify(
                "recommendations.recommendation.reminder",
                recommendation,
                focal_points_for(recommendation),
            )
        )
    elif kind == MessageKind.OVERDUE:
        action = "recommendations.recommendation.mark_overdue"
        recommendation.overdue_since = today
        changes["overdue_since"] = [None, today]
        fields.append("overdue_since")
        recipients += _names(
            notify(
                "recommendations.recommendation.reminder",
                recommendation,
                focal_points_for(recommendation),
            )
        )
    elif kind == MessageKind.ESCALATION:
        action = "recommendations.recommendation.escalate"
        recommendation.escalated_on = today
        changes["escalated_on"] = [None, today]
        fields.append("escalated_on")
        recipients += _names(
            notify(
                "recommendations.recommendation.escalated", recommendation, heads_of(recommendation)
            )
        )
        parent = recommendation.authority.parent
        if parent is not None:
            # Only the parent's focal points who may see units' recommendations are told.
            recipients += _names(
                notify(
                    "recommendations.recommendation.escalated_authority",
                    recommendation,
                    focal_points_for(recommendation, authority=parent),
                )
            )
            if _email_authority(
                recommendation,
                parent.email,
                _("Overdue recommendation addressed to %(authority)s")
                % {"authority": recommendation.authority.name},
            ):
                recipients.append(parent.email)
    elif kind == MessageKind.REVIEW_DUE:
        recipients += _names(
            notify(
                "recommendations.recommendation.review_due",
                recommendation,
                staff_to_tell(recommendation),
            )
        )
    if kind in (MessageKind.RESPONSE_REMINDER, MessageKind.OVERDUE) and _email_authority(
        recommendation,
        recommendation.authority.email,
        _("Reminder: recommendation %(reference)s")
        % {"reference": recommendation.reference or f"#{recommendation.pk}"},
    ):
        recipients.append(recommendation.authority.email)
    log.recipients = ", ".join(recipients)
    log.save(update_fields=["recipients"])
    changes["recipients"] = [None, log.recipients]
    # The job's marks raise the version: a form opened before them is based on an older state.
    old = recommendation.version
    recommendation.version = old + 1
    changes["version"] = [old, old + 1]
    Recommendation.objects.filter(pk=recommendation.pk).update(
        **{field: getattr(recommendation, field) for field in fields}
    )
    audit(actor=None, action=action, obj=recommendation, changes=changes)
    return True


def run_deadlines(
    *, today: datetime.date | None = None, bodies: Iterable[Body] | None = None
) -> Counter[str]:
    """One pass over every body's open recommendations; returns how many of each message kind
    were sent."""
    today = today or timezone.localdate()
    sent: Counter[str] = Counter()
    if bodies is None:
        bodies = Body.objects.filter(
            pk__in=Recommendation.objects.values("body_id").distinct()
        ).order_by("pk")
    for body in bodies:
        rules = settings_for(body)
        remind_from = today + datetime.timedelta(days=rules.reminder_days)
        escalate_before = today - datetime.timedelta(days=rules.escalation_days)
        open_ones = (
            Recommendation.objects.filter(body=body)
            .exclude(assessment__in=CLOSED_ASSESSMENTS)
            .select_related("authority", "authority__parent", "body")
        )
        passes: list[tuple[str, Any, str]] = [
            (
                MessageKind.RESPONSE_REMINDER,
                open_ones.filter(
                    position=Position.NO_RESPONSE,
                    response_due__gte=today,
                    response_due__lte=remind_from,
                ),
                "response_due",
            ),
            (
                MessageKind.IMPLEMENTATION_REMINDER,
                open_ones.exclude(position=Position.REJECTED).filter(
                    implementation_due__gte=today, implementation_due__lte=remind_from
                ),
                "implementation_due",
            ),
            (
                MessageKind.OVERDUE,
                open_ones.filter(overdue_since__isnull=True).filter(
                    Q(position=Position.NO_RESPONSE, response_due__lt=today)
                    | (Q(implementation_due__lt=today) & ~Q(position=Position.REJECTED))
                ),
                "",
            ),
            (
                MessageKind.ESCALATION,
                open_ones.filter(overdue_since__lte=escalate_before, escalated_on__isnull=True),
                "overdue_since",
            ),
            (
                MessageKind.REVIEW_DUE,
                open_ones.filter(next_review_on__lte=today),
                "next_review_on",
            ),
        ]
        for kind, queryset, due_field in passes:
            if due_field:
                # Leave out, in the database, what was already sent for this deadline.
                queryset = queryset.exclude(messages__kind=kind, messages__due_on=F(due_field))
            for recommendation in queryset.order_by("pk").iterator(chunk_size=500):
                if kind == MessageKind.OVERDUE:
                    due = (
                        recommendation.response_due
                        if recommendation.position == Position.NO_RESPONSE
                        and recommendation.response_due < today
                        else recommendation.implementation_due
                    )
                else:
                    due = getattr(recommendation, due_field)
                if due is not None and _send(recommendation, kind, due, today=today):
                    sent[kind] += 1
    return sent
