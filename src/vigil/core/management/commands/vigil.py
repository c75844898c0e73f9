"""`vigil demo --scale small|national`, `vigil generate-key`, `vigil keys status`,
`vigil audit verify`, `vigil imports purge` and `vigil jobs sweep`."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vigil.core import audit_chain, demo, keys
from vigil.core.crypto import Keyring, generate_key
from vigil.core.imports import import_purge_expired
from vigil.core.personas import PERSONAS


class Command(BaseCommand):
    help = "Vigil's own commands: demo data, keys, audit trail checks, import files, lost jobs."
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
        imports_parser = sub.add_parser("imports", help="Files uploaded to import records.")
        imports_sub = imports_parser.add_subparsers(dest="imports_action", required=True)
        imports_sub.add_parser(
            "purge",
            help="Delete the import files (and the rows kept of them) uploaded longer ago than "
            "their body's retention period. Each import job also does this when it starts; "
            "run it daily (cron) so that files go on time even when nobody imports.",
        )

        audit_parser = sub.add_parser("audit", help="Checks of the audit trail.")
        audit_sub = audit_parser.add_subparsers(dest="audit_action", required=True)
        verify_parser = audit_sub.add_parser(
            "verify",
            help="Check every chain of the audit trail: an entry changed, removed or added "
            "outside Vigil is reported, and the command exits with status 1.",
        )
        verify_parser.add_argument(
            "--anchors",
            type=Path,
            help="A JSON file of where each chain ended at the last clean check: checked, then "
            "rewritten after a clean check. Keep it off the database server, so that a chain "
            "rewritten from some point on with new seals is still found.",
        )
        verify_parser.add_argument(
            "--all", action="store_true", help="List every problem, not only each chain's first."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate-key":
            self.stdout.write(generate_key())
            return
        if options["action"] == "keys":
            self.keys_status()
            return
        if options["action"] == "audit":
            self.audit_verify(options["anchors"], show_all=options["all"])
            return
        if options["action"] == "jobs":
            self.jobs_sweep()
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

    def audit_verify(self, anchors_path: Path | None, *, show_all: bool) -> None:
        anchors = _read_anchors(anchors_path) if anchors_path else None
        if anchors_path and anchors is None:
            self.stdout.write(
                f"No anchors at {anchors_path} yet: they are written after this check."
            )
        reports = audit_chain.verify(anchors=anchors)
        entries = sum(report.entries for report in reports)
        self.stdout.write(f"Audit trail: {len(reports)} chains, {entries} sealed entries.")
        broken = [report for report in reports if not report.intact]
        for report in reports:
            if report.intact:
                self.stdout.write(
                    f"  ok      {report.name}: {report.entries} entries, last seal "
                    f"{report.last_hash or '(none)'}"
                )
                continue
            self.stdout.write(f"  BROKEN  {report.name}: {report.entries} entries")
            shown = report.problems if show_all else report.problems[:1]
            for problem in shown:
                self.stdout.write(f"          {problem.message}")
            if len(report.problems) > len(shown):
                self.stdout.write(
                    f"          … and {len(report.problems) - len(shown)} more (--all lists them)."
                )
        if broken:
            problems = sum(len(report.problems) for report in broken)
            raise CommandError(
                f"The audit trail failed verification: {problems} problem(s) in "
                f"{len(broken)} chain(s)."
                + (" The anchors file was left as it was." if anchors_path else "")
            )
        if anchors_path:
            _write_anchors(anchors_path, audit_chain.anchors_of(reports))
            self.stdout.write(f"Anchors written to {anchors_path}.")
        self.stdout.write("Every chain is intact.")

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


ANCHORS_FORMAT = "vigil-audit-anchors/1"


def _read_anchors(path: Path) -> dict[int, tuple[int, str]] | None:
    """The chain ends recorded by the last clean check; None when there is no file yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CommandError(f"The anchors file {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != ANCHORS_FORMAT:
        raise CommandError(f"{path} is not an anchors file written by `vigil audit verify`.")
    try:
        return {
            int(chain): (int(end["position"]), str(end["hash"]))
            for chain, end in data["chains"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CommandError(f"The anchors file {path} is damaged: {exc!r}.") from exc


def _write_anchors(path: Path, anchors: dict[int, tuple[int, str]]) -> None:
    data = {
        "format": ANCHORS_FORMAT,
        "chains": {
            str(chain): {"position": position, "hash": last_hash}
            for chain, (position, last_hash) in sorted(anchors.items())
        },
    }
    # Written beside and renamed over, so an interrupted run never leaves half a file.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent or Path("."), prefix=".anchors-")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    Path(temporary).replace(path)
