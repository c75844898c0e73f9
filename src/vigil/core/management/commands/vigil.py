"""`vigil demo --scale small|national` and `vigil generate-key`."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vigil.core import demo
from vigil.core.crypto import generate_key
from vigil.core.personas import PERSONAS


class Command(BaseCommand):
    help = "Vigil's own commands: demo data and key generation."
    # `vigil generate-key` must work before any key is configured.
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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate-key":
            self.stdout.write(generate_key())
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

    def print_logins(self, password: str) -> None:
        self.stdout.write("\nDemo logins (every one with the password below):")
        for persona in PERSONAS:
            self.stdout.write(f"  {persona.username:<10} {persona.description} [{persona.body}]")
        self.stdout.write(f"  password:  {password}\n")
