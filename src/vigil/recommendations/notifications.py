"""The notification kinds of recommendations. A focal point's link opens the portal, a staff
member's the recommendation's page: the two never share a kind."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _lazy

from vigil.core.notify import NotificationKind


def _staff(text: Any) -> Any:
    def describe(recommendation: Any) -> tuple[str, str]:
        line = str(text) % {"reference": recommendation.reference or f"#{recommendation.pk}"}
        return line, reverse("recommendations:detail", args=[recommendation.pk])

    return describe


def _portal(text: Any) -> Any:
    def describe(recommendation: Any) -> tuple[str, str]:
        line = str(text) % {"reference": recommendation.reference or f"#{recommendation.pk}"}
        return line, reverse("portal:detail", args=[recommendation.pk])

    return describe


KINDS = [
    NotificationKind(
        key="recommendations.recommendation.issued",
        label=_lazy("A recommendation addressed to your authority"),
        describe=_portal(_lazy("New recommendation %(reference)s to answer.")),
        email_text=_lazy("A recommendation was addressed to your authority. Open Vigil to answer."),
        email_default=True,
    ),
    NotificationKind(
        key="recommendations.recommendation.reminder",
        label=_lazy("A deadline of a recommendation is near"),
        describe=_portal(_lazy("Recommendation %(reference)s: a deadline is near.")),
        email_text=_lazy("A deadline of a recommendation addressed to you is near."),
        email_default=True,
    ),
    NotificationKind(
        key="recommendations.recommendation.escalated_authority",
        label=_lazy("A recommendation to a unit of your authority is overdue"),
        describe=_portal(_lazy("Recommendation %(reference)s is overdue.")),
        email_text=_lazy(
            "A recommendation addressed to a unit of your authority is overdue. Open Vigil."
        ),
        email_default=True,
    ),
    NotificationKind(
        key="recommendations.recommendation.escalated",
        label=_lazy("An overdue recommendation is escalated"),
        describe=_staff(_lazy("Recommendation %(reference)s is overdue and escalated.")),
        email_text=_lazy("An overdue recommendation was escalated. Open Vigil to follow it up."),
        email_default=True,
    ),
    NotificationKind(
        key="recommendations.recommendation.responded",
        label=_lazy("An authority answered a recommendation"),
        describe=_staff(_lazy("The authority answered recommendation %(reference)s.")),
        email_text=_lazy("An authority answered a recommendation through the portal."),
    ),
    NotificationKind(
        key="recommendations.recommendation.review_due",
        label=_lazy("A recommendation's implementation is due for review"),
        describe=_staff(_lazy("Recommendation %(reference)s is due for an implementation review.")),
        email_text=_lazy("A recommendation's implementation is due for review."),
    ),
]
