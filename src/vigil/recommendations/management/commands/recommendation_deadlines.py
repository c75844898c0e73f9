"""`manage.py recommendation_deadlines`: the nightly pass over the recommendations' deadlines
(reminders, overdue marks, escalation, reviews). Run it from cron once a day; it can be run again
safely, each message is sent once."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vigil.recommendations.deadlines import run_deadlines


class Command(BaseCommand):
    help = "Send deadline reminders, mark overdue recommendations and escalate them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", help="Run as of this date (YYYY-MM-DD).")

    def handle(self, *args: Any, **options: Any) -> None:
        today = None
        if options.get("today"):
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError as exc:
                raise CommandError("--today takes a date as YYYY-MM-DD.") from exc
        sent = run_deadlines(today=today)
        for kind, count in sorted(sent.items()):
            self.stdout.write(f"{kind}: {count}")
        self.stdout.write(f"total: {sum(sent.values())}")
