"""Recompute every body's risk scores: run it nightly (cron or a systemd timer)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vigil.core.models import Body
from vigil.planning.risk import compute_risks


class Command(BaseCommand):
    help = "Recompute the risk score of every place of every body (run it nightly)."

    def handle(self, *args: Any, **options: Any) -> None:
        for body in Body.objects.order_by("pk"):
            count = compute_risks(body)
            self.stdout.write(f"{body}: {count} places")
