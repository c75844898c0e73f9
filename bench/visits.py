"""Benchmark of visits and findings on PostgreSQL, at the scale of a national mechanism.

Builds the `national` demo data set (about 5,000 places, 50,000 visits and 500,000 findings) in a
fresh database, then times the visit page and the findings list filtered by theme and year (each
next to its own SQL run raw through the driver, interleaved in the same run), the analytics query
(findings by theme × type of place × year) and the export of every finding. Not a test: it prints
figures (and PASS/MISS), see bench/README.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench_visits \\
        .venv/bin/python bench/visits.py
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vigil_bench_visits"

TARGET_P95_MS = 150.0
TARGET_ANALYTICS_P95_MS = 300.0
TARGET_EXPORT_ROWS_PER_S = 20_000.0

REQUESTS = 200
WARM_UP = 10
ANALYTICS_RUNS = 20
EXPORT_RUNS = 3


def _places_bench() -> Any:
    """bench/places.py's set-up and measuring helpers (database, Django, percentiles)."""
    spec = importlib.util.spec_from_file_location("bench_places", ROOT / "bench" / "places.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


base = _places_bench()
base.DEFAULT_DATABASE_URL = DEFAULT_DATABASE_URL
percentile = base.percentile
stopwatch = base.stopwatch
verdict = base.verdict


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2006, help="seed of every random choice")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time a database kept by an earlier --keep run instead of building a new one",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=REQUESTS,
        help=f"timed requests per page (default {REQUESTS}; fewer on a busy machine)",
    )
    parser.add_argument(
        "--visits", type=int, default=None, help="visits to build (default: the national 50,000)"
    )
    parser.add_argument(
        "--observations",
        type=int,
        default=None,
        help="findings to build (default: the national 500,000)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print query counts and a cProfile summary for every figure, not only for misses",
    )
    return parser.parse_args()


def build_dataset(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    from vigil.core import demo
    from vigil.places.models import Place
    from vigil.visits import demo as visits_demo
    from vigil.visits.models import Observation, Visit

    if args.visits:
        visits_demo.NATIONAL_VISITS = args.visits
    if args.observations:
        visits_demo.NATIONAL_OBSERVATIONS = args.observations
    with stopwatch() as elapsed:
        call_command("migrate", interactive=False, verbosity=0)
    print(f"\n1. Data set\n  migrate                            {elapsed[0]:7.2f} s")
    with stopwatch() as elapsed:
        demo.build("national", seed=args.seed, log=lambda message: None)
    base.analyze()
    print(
        f"  national demo data set             {elapsed[0]:7.2f} s   "
        f"({Place.objects.count():,} places, {Visit.objects.count():,} visits, "
        f"{Observation.objects.count():,} findings)"
    )


def raw_replay(statements: list[str]) -> float:
    """Run a page's SELECTs straight through psycopg, as the page sent them; milliseconds."""
    from django.db import connection

    cursor = connection.cursor().cursor  # the driver's own cursor, below Django
    start = time.perf_counter()
    for sql in statements:
        cursor.execute(sql)
        cursor.fetchall()
    return (time.perf_counter() - start) * 1000


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        from vigil.core.models import Membership

        self.args = args
        self.rng = random.Random(args.seed)
        self.head = get_user_model().objects.get(username="head")
        self.membership = Membership.objects.select_related("body").get(
            user=self.head, body__slug="npm"
        )
        self.client = Client()
        self.client.force_login(self.head)
        self.misses: list[str] = []
        self.diagnose: list[tuple[str, Callable[[], Any]]] = []

    def _get(self, url: str) -> int:
        response = self.client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        if response.streaming:
            size = sum(len(chunk) for chunk in response.streaming_content)
        else:
            size = len(response.content)
        response.close()
        return size

    def _statements(self, url: str) -> list[str]:
        """The SELECTs the page sends (the writes, if any, are not replayed)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            self._get(url)
        return [
            query["sql"]
            for query in captured.captured_queries
            if query["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
        ]

    def page_and_sql(self, label: str, urls: list[str]) -> None:
        """Each URL: its page timed, then its own SQL run raw, turn by turn, so that the two
        figures meet the same load."""
        for url in urls[:WARM_UP]:
            self._get(url)
        statements = {url: self._statements(url) for url in set(urls)}
        pages, raws, queries = [], [], []
        for url in urls:
            with stopwatch() as elapsed:
                self._get(url)
            pages.append(elapsed[0] * 1000)
            raws.append(raw_replay(statements[url]))
            queries.append(len(statements[url]))
        page_p95 = percentile(pages, 0.95)
        raw_p95 = percentile(raws, 0.95)
        print(
            f"  {label:<30} page p50 {statistics.median(pages):6.1f}  p95 {page_p95:6.1f} ms"
            f"   its SQL raw p50 {statistics.median(raws):6.1f}  p95 {raw_p95:6.1f} ms"
            f"   ratio p95 {page_p95 / raw_p95 if raw_p95 else float('inf'):4.2f}"
            f"   {statistics.median(queries):.0f} queries  n={len(urls)}"
            f"  {verdict(page_p95 < TARGET_P95_MS)}"
        )
        if page_p95 >= TARGET_P95_MS:
            self.misses.append(label)
        if page_p95 >= TARGET_P95_MS or self.args.profile:
            slowest = urls[pages.index(max(pages))]
            self.diagnose.append((f"{label} ({slowest})", lambda: self._get(slowest)))

    # 2. Pages ---------------------------------------------------------------------------------

    def pages(self) -> None:
        from django.db.models.functions import ExtractYear

        from vigil.core.models import TaxonomyTerm
        from vigil.visits.models import Observation, Visit

        print(
            f"\n2. Pages (signed in as the head; target p95 < {TARGET_P95_MS:.0f} ms; "
            f"load average {base.load_average()})"
        )
        visit_ids = list(
            Visit.objects.filter(body=self.membership.body, started_at__isnull=False).values_list(
                "pk", flat=True
            )
        )
        visits = [f"/visits/{pk}/" for pk in self.rng.sample(visit_ids, self.args.requests)]
        self.page_and_sql("visit page", visits)
        themes = list(
            TaxonomyTerm.objects.filter(body=self.membership.body, kind="theme").values_list(
                "pk", flat=True
            )
        )
        years = sorted(
            set(
                Observation.objects.annotate(year=ExtractYear("created_at"))
                .values_list("year", flat=True)
                .distinct()
            )
        )
        findings = [
            f"/visits/observations/?theme={self.rng.choice(themes)}&year={self.rng.choice(years)}"
            for _ in range(self.args.requests)
        ]
        self.page_and_sql("findings by theme and year", findings)

    # 3. Analytics -----------------------------------------------------------------------------

    def analytics(self) -> None:
        from vigil.visits.models import Observation
        from vigil.visits.queries import observation_counts

        total = Observation.objects.count()
        print(
            f"\n3. Analytics: findings by theme × type of place × year over {total:,} findings "
            f"(target p95 < {TARGET_ANALYTICS_P95_MS:.0f} ms)"
        )
        observation_counts(self.membership)  # warm-up
        timings = []
        for _ in range(ANALYTICS_RUNS):
            with stopwatch() as elapsed:
                rows = observation_counts(self.membership)
            timings.append(elapsed[0] * 1000)
        p95 = percentile(timings, 0.95)
        counted = sum(row[3] for row in rows)
        print(
            f"  observation_counts               p50 {statistics.median(timings):6.1f}  "
            f"p95 {p95:6.1f}  max {max(timings):6.1f} ms   {len(rows):,} groups, "
            f"{counted:,} findings  n={ANALYTICS_RUNS}  "
            f"{verdict(p95 < TARGET_ANALYTICS_P95_MS)}"
        )
        if p95 >= TARGET_ANALYTICS_P95_MS:
            self.misses.append("analytics")

    # 4. Export --------------------------------------------------------------------------------

    def exports(self) -> None:
        import csv
        import io

        from vigil.visits.queries import visible_observations

        rows = visible_observations(self.membership).count()
        print(
            f"\n4. Export of every visible finding ({rows:,} rows, the whole streamed response; "
            f"target > {TARGET_EXPORT_ROWS_PER_S:,.0f} rows/s)"
        )
        url = "/visits/observations/export.csv"
        response = self.client.get(url)
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        exported = sum(1 for _ in csv.reader(io.StringIO(text))) - 1
        if exported != rows:
            raise RuntimeError(f"The CSV export has {exported} rows, expected {rows}.")
        timings = []
        size = 0
        for _ in range(EXPORT_RUNS):
            with stopwatch() as elapsed:
                size = self._get(url)
            timings.append(elapsed[0])
        line, rate = base.rate_line(
            "CSV export (COPY)", rows, statistics.median(timings), TARGET_EXPORT_ROWS_PER_S
        )
        print(f"{line}   {size / 1e6:.1f} MB, median of {EXPORT_RUNS}")
        if rate <= TARGET_EXPORT_ROWS_PER_S:
            self.misses.append("CSV export")
        # Excel is written by openpyxl row by row: timed on one theme's findings of a year.
        from vigil.core.models import TaxonomyTerm

        year = time.localtime().tm_year - 1
        term = TaxonomyTerm.objects.get(body=self.membership.body, kind="theme", code="food")
        subset = f"/visits/observations/export.xlsx?year={year}&theme={term.pk}"
        subset_rows = self._subset_rows(year, term.pk)
        with stopwatch() as elapsed:
            size = self._get(subset)
        line, rate = base.rate_line(
            f"XLSX export ({year}, one theme)", subset_rows, elapsed[0], TARGET_EXPORT_ROWS_PER_S
        )
        print(f"{line}   {size / 1e6:.1f} MB (openpyxl; not held to the target)")

    def _subset_rows(self, year: int, theme: int) -> int:
        from vigil.visits.queries import visible_observations, year_bounds

        start, end = year_bounds(year)
        return (
            visible_observations(self.membership)
            .filter(created_at__gte=start, created_at__lt=end, theme_id=theme)
            .count()
        )

    def report(self) -> None:
        if self.diagnose:
            print("\n5. Where the time goes" + ("" if self.args.profile else " (for the misses)"))
            for label, func in self.diagnose:
                base.profile(label, func)
        print(f"\n  Load average at the end: {base.load_average()}")
        if self.misses:
            print(f"MISSED {len(self.misses)} target(s): {', '.join(self.misses)}")
        else:
            print("Every target met.")


def main() -> int:
    args = parse_args()
    config = base.database_settings()
    if not args.reuse:
        base.create_database(config)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as var_dir:
        try:
            base.configure_django(var_dir)
            facts = io.StringIO()
            with contextlib.redirect_stdout(facts):
                base.machine_facts(config)
            print(facts.getvalue().replace("registry of places", "visits and findings"), end="")
            if args.reuse:
                print("\n1. Data set: reused from an earlier run (--reuse)")
            else:
                build_dataset(args)
            bench = Bench(args)
            bench.pages()
            bench.analytics()
            bench.exports()
            bench.report()
        finally:
            from django.db import connections

            connections.close_all()
            if args.keep or args.reuse:
                print(f"Kept database {config['NAME']}.")
            else:
                base.drop_database(config)
    print(f"Finished in {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
