"""Re-encrypt every encrypted field and stored file with the first key of VIGIL_ENCRYPTION_KEYS,
then verify that nothing is left on an old key."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vigil.core import keys
from vigil.core.audit import audit
from vigil.core.crypto import Keyring


class Command(BaseCommand):
    help = (
        "Put the new key first in VIGIL_ENCRYPTION_KEYS, keep the old ones after it, run this "
        "until it reports nothing left on an old key, then remove the old keys. Safe to run "
        "again after an interruption: what is already on the first key is skipped. Exits with "
        "status 1 while anything is on an old key, undecryptable or missing."
    )
    # The start-up check refuses to run when sampled files cannot be decrypted; the rotation
    # must still run then, to re-encrypt the rest and list every such file.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--verify-only",
            action="store_true",
            help="Re-encrypt nothing: only check that every value and file is on the first key.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            keyring = Keyring.from_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if options["verify_only"]:
            self.stdout.write("Verifying: decrypting every value and stored file…")
            report = keys.scan(keyring)
        else:
            result, report = keys.rotate(keyring, log=self.stdout.write)
            audit(
                actor=None,
                action="core.keys.rotate",
                changes={
                    "values": result.values,
                    "files": result.files,
                    "files_not_rewritten": [failure.id for failure in result.files_failed],
                    "on_old_keys": report.on_old_keys,
                    "unreadable": report.unreadable,
                    "missing_files": [problem.id for problem in report.missing_files],
                },
            )
            if result.values_changed_meanwhile:
                self.stdout.write(
                    f"{result.values_changed_meanwhile} values were saved by someone else during "
                    "the run and were left as saved (the verification below checks them)."
                )
        for line in keys.describe(report):
            self.stdout.write(line)
        for line in keys.advice(report):
            self.stdout.write(line)
        if not report.complete:
            left = [
                f"{report.on_old_keys} still on an old key" if report.on_old_keys else "",
                f"{report.unreadable} that no configured key decrypts" if report.unreadable else "",
                f"{keys.count(len(report.missing_files), 'file')} missing on disk"
                if report.missing_files
                else "",
            ]
            raise CommandError(
                "Not finished (values and files): " + ", ".join(item for item in left if item) + "."
            )
        self.stdout.write("Every value and stored file is on key 1.")
