"""The protection app's daily work: alerts for overdue follow-ups and unanswered referrals, and
erasure of personal data past its retention period. Run it once a day (cron or a timer)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vigil.protection.erasure import retention_run
from vigil.protection.services import alert_overdue


class Command(BaseCommand):
    help = "Alert overdue follow-ups and unanswered referrals; erase data past retention."

    def handle(self, *args: Any, **options: Any) -> None:
        alerts = alert_overdue()
        erased = retention_run()
        self.stdout.write(
            f"alerts: {alerts['follow_ups']} follow-ups, {alerts['referrals']} referrals; "
            f"erased: {erased['cases']} cases, {erased['persons']} persons"
        )
