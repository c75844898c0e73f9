"""Benchmark of the visit programme planner on the `national` data set (PostgreSQL).

Builds the national demo (about 5,000 places) in a fresh database, gives the body 40 monitors,
computes the risk scores, and plans 12 months with each method: the planner at time limits of
10, 30 and 120 s, a greedy baseline (most overdue first, then highest risk, earliest month with
room) and a random feasible baseline. Prints one row per method: places beyond their maximum
interval at the end of the period, sum of risk of the places visited, objective, proven bound and
gap, and solve time. Not a test: see bench/README.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench_planning \
        .venv/bin/python bench/planning.py
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from places import (
    analyze,
    configure_django,
    create_database,
    database_settings,
    drop_database,
    load_average,
)

MONITORS = 40
MONTHS = 12
TIME_LIMITS = (10, 30, 120)
TARGET_FEASIBLE_S = 10.0
TARGET_GAP = 0.01


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2006)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--limits",
        default=",".join(str(limit) for limit in TIME_LIMITS),
        help="the planner's time limits in seconds, comma-separated",
    )
    return parser.parse_args()


def build(seed: int) -> object:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from vigil.core import demo
    from vigil.core.models import Body, Membership, Role
    from vigil.places.models import Place
    from vigil.planning.models import MonitorProfile
    from vigil.planning.risk import compute_risks

    began = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    demo.build("national", seed=seed, log=lambda message: None)
    analyze()
    body = max(Body.objects.all(), key=lambda b: Place.objects.filter(body=b).count())
    for number in range(MONITORS):
        user = get_user_model().objects.create_user(username=f"bench-monitor-{number}")
        member = Membership.objects.create(user=user, body=body, role=Role.MONITOR)
        MonitorProfile.objects.create(
            membership=member,
            gender="female" if number % 2 else "male",
            expertise="doctor"
            if number % 10 == 0
            else ("child_specialist" if number % 10 == 5 else ""),
            days_per_month=6,
        )
    built = time.perf_counter() - began
    began = time.perf_counter()
    places = compute_risks(body)
    risk_seconds = time.perf_counter() - began
    print(f"  data set: {built:.1f} s; risk of {places:,} places: {risk_seconds:.2f} s")
    return body


def main() -> int:
    args = parse_args()
    config = database_settings()
    create_database(config)
    try:
        with tempfile.TemporaryDirectory() as var_dir:
            configure_django(var_dir)
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            run(args)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(config)
    return 0


def run(args: argparse.Namespace) -> None:
    from vigil.planning import services, solver
    from vigil.planning.models import Programme

    print("Visit programme planner, national data set, 12 months")
    body = build(args.seed)
    programme = Programme(
        body=body, title="bench", starts_on=datetime.date(2027, 1, 1), months=MONTHS
    )
    inputs = services._inputs(programme, {})
    problem = inputs.problem
    due = sum(1 for demand in problem.demands if demand.due_month is not None)
    print(
        f"  {len(problem.demands):,} places, {due:,} reach their maximum interval within the "
        f"period; capacity {problem.capacity[0]:,} member-days a month after the reserve "
        f"({MONITORS} monitors)"
    )
    rows = []
    for limit in [int(value) for value in args.limits.split(",") if value]:
        solution = solver.solve(problem, time_limit=limit, target_gap=0.0)
        rows.append((f"planner, {limit} s limit", solution))
    rows.append(("greedy baseline", solver.greedy(problem)))
    rows.append(("random feasible baseline", solver.random_feasible(problem, seed=args.seed)))

    risk = {demand.place_id: demand.value for demand in problem.demands}
    header = (
        f"\n  {'method':<26} {'beyond interval':>15} {'risk visited':>12} {'objective':>12} "
        f"{'bound':>12} {'gap':>8} {'time s':>8}  load"
    )
    print(header)
    for label, solution in rows:
        late = sum(solver.is_late(d, solution.months.get(d.place_id)) for d in problem.demands)
        covered = sum(risk[place_id] for place_id in solution.months)
        bound = f"{solution.bound:12.1f}" if solution.bound is not None else f"{'—':>12}"
        gap = f"{solution.gap:8.4%}" if solution.gap is not None else f"{'—':>8}"
        problems = solver.violations(problem, solution.months)
        print(
            f"  {label:<26} {late:>15,} {covered:>12.1f} {solution.objective:>12.1f} "
            f"{bound} {gap} {solution.seconds:>8.2f}  {load_average()}"
            + (f"  INFEASIBLE: {problems[0]}" if problems else "")
        )
    planner = [solution for label, solution in rows if label.startswith("planner")]
    greedy = next(solution for label, solution in rows if label == "greedy baseline")
    if planner:
        first = planner[0]
        verdict = "PASS" if first.seconds <= TARGET_FEASIBLE_S + 1 else "MISS"
        print(
            f"\n  feasible programme within {TARGET_FEASIBLE_S:.0f} s: "
            f"{verdict} ({first.seconds:.2f} s)"
        )
        best_gap = min(solution.gap or 1.0 for solution in planner if solution.seconds <= 61)
        verdict = "PASS" if best_gap < TARGET_GAP else "MISS"
        print(f"  gap under 1% within 60 s: {verdict} ({best_gap:.4%})")
        greedy_late = sum(solver.is_late(d, greedy.months.get(d.place_id)) for d in problem.demands)
        late = sum(solver.is_late(d, first.months.get(d.place_id)) for d in problem.demands)
        covered = sum(risk[place_id] for place_id in first.months)
        greedy_covered = sum(risk[place_id] for place_id in greedy.months)
        print(
            "  fewer places beyond their interval and more risk covered than greedy: "
            f"{'PASS' if late < greedy_late and covered > greedy_covered else 'MISS'} "
            f"({late:,} vs {greedy_late:,}; {covered:.1f} vs {greedy_covered:.1f})"
        )


if __name__ == "__main__":
    sys.exit(main())
