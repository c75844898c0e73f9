"""`vigil demo --scale small|national`, `vigil generate-key`, `vigil keys status` and
`vigil imports purge`."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vigil.core import demo, keys
from vigil.core.crypto import Keyring, generate_key
from vigil.core.imports import import_purge_expired
from vigil.core.personas import PERSONAS


class Command(BaseCommand):
    help = "Vigil's own commands: demo data, key generation, key status and import files."
    # `vigil generate-key` must work before any key is configured, and `vigil keys status` when
    # the start-up check refuses the keys (it says why).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        demo_parser = sub.add_parser("demo", help="Load synthetic demo data.")
        demo_parser.add_argument("--scale", choices=demo.SCALES, default="small")
        demo_parser.add_argument("--seed", type=int, default=2006)
        demo_parser.add_argument("--password", default=demo.DEFAULT_PASSWORD)
        demo_parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database has data."
        )
        sub.add_parser("generate-key", help="Print a new encryption key for VIGIL_ENCRYPTION_KEYS.")
        keys_parser = sub.add_parser("keys", help="The encryption keys in use.")
        keys_sub = keys_parser.add_subparsers(dest="keys_action", required=True)
        keys_sub.add_parser(
            "status",
            help="How many values and files each configured key still protects, what no key "
            "decrypts and which files are missing: an old key may go when it protects nothing.",
        )
        imports_parser = sub.add_parser("imports", help="Files uploaded to import records.")
        imports_sub = imports_parser.add_subparsers(dest="imports_action", required=True)
        imports_sub.add_parser(
            "purge",
            help="Delete the import files (and the rows kept of them) uploaded longer ago than "
            "their body's retention period. Each import job also does this when it starts; "
            "run it daily (cron) so that files go on time even when nobody imports.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate-key":
            self.stdout.write(generate_key())
            return
        if options["action"] == "keys":
            self.keys_status()
            return
        if options["action"] == "imports":
            purged = import_purge_expired()
            self.stdout.write(
                f"Deleted the files of {purged} import{'' if purged == 1 else 's'} past their "
                "retention period."
            )
            return
        if options["if_empty"] and not demo.is_empty():
            self.stdout.write("The database already has data; demo data not loaded.")
            self.print_logins(options["password"])
            return
        started = time.perf_counter()
        try:
            demo.build(
                options["scale"],
                seed=options["seed"],
                password=options["password"],
                log=self.stdout.write,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Demo data ({options['scale']}) loaded in {time.perf_counter() - started:.1f} s."
        )
        self.print_logins(options["password"])

    def keys_status(self) -> None:
        try:
            keyring = Keyring.from_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        report = keys.scan(keyring)
        for line in [*keys.describe(report), *keys.advice(report)]:
            self.stdout.write(line)

    def print_logins(self, password: str) -> None:
        self.stdout.write("\nDemo logins (every one with the password below):")
        for persona in PERSONAS:
            self.stdout.write(f"  {persona.username:<10} {persona.description} [{persona.body}]")
        self.stdout.write(f"  password:  {password}\n")
