"""Mutation testing of Vigil's rules with cosmic-ray: does the suite notice when a rule breaks?

Each target is one module (or a few functions of one) and the few test files that prove its
rules. The script copies the project to a scratch folder (the work tree is never mutated), lets
cosmic-ray change one thing at a time (a comparison, a boolean, a constant, a removed call...),
runs the target's tests on SQLite for each change and prints every change that no test noticed
(a surviving mutant), with its diff. Not a test and not run by CI: a review tool, see
bench/README.md.

    .venv/bin/python bench/mutation.py                      # every target
    .venv/bin/python bench/mutation.py access tabular       # some targets
    .venv/bin/python bench/mutation.py --list               # the targets and their tests
    .venv/bin/python bench/mutation.py crypto --max 40      # a bounded sample of mutants

The counts line of each target reads `target: N mutants, K killed, S survived, T timed out`.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST_FLAGS = "-x -q -p no:randomly -p no:cacheprovider -p no:xdist"


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    tests: tuple[str, ...]
    # Only mutate these top-level functions/constants (all of the module when empty).
    only: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = field(default=())


TARGETS = [
    Target(
        "access",
        "src/vigil/core/access.py",
        ("tests/core/test_access.py", "tests/core/test_access_rules.py"),
    ),
    Target(
        "audit",
        "src/vigil/core/audit.py",
        ("tests/core/test_audit.py", "tests/core/test_audit_chain.py"),
    ),
    Target(
        "crypto",
        "src/vigil/core/crypto.py",
        ("tests/core/test_crypto.py", "tests/core/test_crypto_fields.py"),
    ),
    Target(
        "tabular",
        "src/vigil/core/tabular.py",
        ("tests/core/test_tabular.py", "tests/core/test_rules_proved.py"),
        only=("FORMULA_PREFIXES", "neutralise_cell"),
        pytest_args=("-k", "neutralis or formula or iso_text"),
    ),
    Target("core-permissions", "src/vigil/core/permissions.py", ("tests/core/test_users.py",)),
    Target(
        "places-permissions",
        "src/vigil/places/permissions.py",
        ("tests/places/test_permissions.py",),
    ),
    Target("places-services", "src/vigil/places/services.py", ("tests/places/test_services.py",)),
    Target(
        "visits-permissions",
        "src/vigil/visits/permissions.py",
        ("tests/visits/test_visibility.py",),
    ),
    Target(
        "visits-services",
        "src/vigil/visits/services.py",
        ("tests/visits/test_fieldwork.py", "tests/visits/test_visibility.py"),
    ),
]
BY_NAME = {target.name: target for target in TARGETS}


def line_ranges(path: Path, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """The lines of the module's top-level functions, classes and assignments named `names`."""
    tree = ast.parse(path.read_text())
    ranges = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            node_names = {node.name}
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            node_names = {t.id for t in targets if isinstance(t, ast.Name)}
        else:
            continue
        if node_names & set(names):
            ranges.append((node.lineno, node.end_lineno or node.lineno))
    missing = set(names) - {
        name
        for node in tree.body
        for name in (
            [node.name]
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
            else [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        )
    }
    if missing:
        raise SystemExit(f"{path}: no top-level {', '.join(sorted(missing))}")
    return ranges


def copy_project(destination: Path) -> None:
    for name in ("src", "tests", "bench"):
        shutil.copytree(
            ROOT / name,
            destination / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis"),
        )
    for name in ("pyproject.toml", "manage.py"):
        shutil.copy2(ROOT / name, destination / name)


def test_command(python: str, target: Target) -> str:
    args = " ".join(_quote(arg) for arg in target.pytest_args)
    return f"{python} -m pytest {PYTEST_FLAGS} {args} {' '.join(target.tests)}".strip()


def _quote(arg: str) -> str:
    return shlex.quote(arg)


def write_config(workdir: Path, target: Target, command: str, timeout: float) -> Path:
    config = workdir / f"{target.name}.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{target.module}"\n'
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    return config


def skip_outside(session: Path, ranges: list[tuple[int, int]], max_mutants: int | None) -> int:
    """Mark the mutants outside the chosen lines (and past a bounded sample) as skipped; return
    how many are left to run."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        # In the module's order, so that a bounded sample is the same mutants on every run
        # (cosmic-ray's job ids are random) and a run after new tests compares with the last.
        items = sorted(
            db.pending_work_items,
            key=lambda item: [(m.start_pos, m.operator_name, m.occurrence) for m in item.mutations],
        )
        outside = [
            item.job_id
            for item in items
            if ranges
            and not any(
                start <= mutation.start_pos[0] <= end
                for mutation in item.mutations
                for start, end in ranges
            )
        ]
        keep = [item.job_id for item in items if item.job_id not in set(outside)]
        sampled_out: list[str] = []
        if max_mutants is not None and len(keep) > max_mutants:
            chosen = set(random.Random(19).sample(keep, max_mutants))
            sampled_out = [job for job in keep if job not in chosen]
        skipped = outside + sampled_out
        if skipped:
            db.set_multiple_results(
                skipped,
                WorkResult(output="not chosen", worker_outcome=WorkerOutcome.SKIPPED),
            )
        return len(items) - len(skipped)


def report(session: Path, target: Target) -> dict[str, int]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    counts = {"mutants": 0, "killed": 0, "survived": 0, "timeout": 0, "incompetent": 0}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            counts["mutants"] += 1
            if result.worker_outcome == WorkerOutcome.ABNORMAL:
                counts["timeout"] += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                for mutation in item.mutations:
                    print(
                        f"SURVIVED {target.module}:{mutation.start_pos[0]} "
                        f"{mutation.operator_name} #{mutation.occurrence}"
                    )
                print("\n".join("    " + line for line in (result.diff or "").splitlines()[2:]))
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                counts["incompetent"] += 1
            else:
                counts["killed"] += 1
    return counts


def run_target(target: Target, args: argparse.Namespace) -> dict[str, int]:
    scratch = Path(tempfile.mkdtemp(prefix=f"vigil-mutation-{target.name}-"))
    try:
        copy_project(scratch)
        command = test_command(args.python, target)
        env = {
            **os.environ,
            "PYTHONPATH": str(scratch / "src") + os.pathsep + str(scratch),
            "DATABASE_URL": "",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("DATABASE_URL")
        started = time.monotonic()
        baseline = subprocess.run(shlex.split(command), cwd=scratch, env=env, check=False)
        seconds = time.monotonic() - started
        if baseline.returncode != 0:
            raise SystemExit(f"{target.name}: the tests fail before any mutation: {command}")
        timeout = max(args.min_timeout, seconds * 3)
        config = write_config(scratch, target, command, timeout)
        session = scratch / f"{target.name}.sqlite"
        cosmic_ray = [sys.executable, "-m", "cosmic_ray.cli"]
        subprocess.run([*cosmic_ray, "init", str(config), str(session)], cwd=scratch, check=True)
        ranges = line_ranges(scratch / target.module, target.only) if target.only else []
        left = skip_outside(session, ranges, args.max)
        print(
            f"{target.name}: {left} mutants to run, about {seconds:.0f} s each "
            f"(timeout {timeout:.0f} s)",
            flush=True,
        )
        subprocess.run(
            [*cosmic_ray, "exec", str(config), str(session)], cwd=scratch, env=env, check=True
        )
        counts = report(session, target)
        print(
            f"{target.name}: {counts['mutants']} mutants, {counts['killed']} killed, "
            f"{counts['survived']} survived, {counts['timeout']} timed out"
            + (f", {counts['incompetent']} incompetent" if counts["incompetent"] else ""),
            flush=True,
        )
        if args.keep:
            print(f"session kept in {session}")
        return counts
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--max", type=int, default=None, help="run at most N mutants a target")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the Python whose pytest runs the tests (default: this one)",
    )
    parser.add_argument("--min-timeout", type=float, default=60.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and session")
    args = parser.parse_args()
    if args.list:
        for target in TARGETS:
            only = f" [{', '.join(target.only)}]" if target.only else ""
            print(f"{target.name}: {target.module}{only} <- {test_command(args.python, target)}")
        return
    unknown = [name for name in args.targets if name not in BY_NAME]
    if unknown:
        raise SystemExit(f"Unknown target(s): {', '.join(unknown)}; see --list")
    chosen = [BY_NAME[name] for name in args.targets] if args.targets else TARGETS
    totals = []
    for target in chosen:
        totals.append((target.name, run_target(target, args)))
    print("\nSummary")
    for name, counts in totals:
        print(
            f"{name}: {counts['mutants']} mutants, {counts['killed']} killed, "
            f"{counts['survived']} survived, {counts['timeout']} timed out"
        )


if __name__ == "__main__":
    main()
