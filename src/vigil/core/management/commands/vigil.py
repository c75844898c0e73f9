"""`vigil demo --scale small|national`, `vigil generate-key`, `vigil keys status` and
`vigil jobs sweep`."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vigil.core import demo, keys
from vigil.core.crypto import Keyring, generate_key
from vigil.core.personas import PERSONAS


class Command(BaseCommand):
    help = "Vigil's own commands: demo data, key generation, key status and lost jobs."
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
        jobs_parser = sub.add_parser("jobs", help="Background jobs.")
        jobs_sub = jobs_parser.add_subparsers(dest="jobs_action", required=True)
        jobs_sub.add_parser(
            "sweep",
            help="Mark failed the running jobs whose worker stopped (no sign of life for "
            "VIGIL_JOB_STALE_SECONDS), so that they can be started again. Safe to run often, "
            "e.g. every few minutes from cron or a systemd timer.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate-key":
            self.stdout.write(generate_key())
            return
        if options["action"] == "keys":
            self.keys_status()
            return
        if options["action"] == "jobs":
            self.jobs_sweep()
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

    def jobs_sweep(self) -> None:
        from vigil.core.tasks import fail_abandoned_jobs

        marked = fail_abandoned_jobs()
        if marked:
            self.stdout.write(
                f"{len(marked)} job(s) had no sign of life and were marked failed: "
                + ", ".join(str(job_id) for job_id in marked)
            )
        else:
            self.stdout.write("No lost jobs.")

    def print_logins(self, password: str) -> None:
        self.stdout.write("\nDemo logins (every one with the password below):")
        for persona in PERSONAS:
            self.stdout.write(f"  {persona.username:<10} {persona.description} [{persona.body}]")
        self.stdout.write(f"  password:  {password}\n")
