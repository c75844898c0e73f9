"""The duplicate check's share of a places import, at a size given on the command line.

Builds the `national` demo data set in a fresh PostgreSQL database (as bench/places.py does),
imports ROWS new places through the whole pipeline (upload → mapping → preview → start → job, in
this process) and prints the pipeline's rate and the time spent flagging possible duplicates:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil_bench_dup python bench/duplicates.py 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import places as bench  # bench/places.py, beside this file

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vigil_bench_dup"


def run_import(runner: bench.Bench, data: bytes) -> None:
    """The import's steps through the services, timed, with the duplicate check's share."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from vigil.core import imports
    from vigil.core.models import TabularImport
    from vigil.core.tasks import run_job

    timer = bench.import_timer(imports.get_importer("places"))
    membership = runner.membership
    try:
        started = time.perf_counter()
        upload = SimpleUploadedFile("bench-places.csv", data, content_type="text/csv")
        imp = imports.import_upload(membership=membership, kind="places", upload=upload)
        imp = imports.import_set_mapping(membership=membership, imp=imp, mapping=imp.mapping)
        imports.import_validate(imp)
        imp = imports.import_start(
            membership=membership, imp=imp, mode=TabularImport.Mode.ALL_OR_NOTHING
        )
        run_job.call(imp.job_id)
        total = time.perf_counter() - started
    finally:
        timer.restore()
    imp.refresh_from_db()
    rows = imp.row_count
    duplicates = timer.seconds.get("flag_possible_duplicates", 0.0)
    print(f"  result: {(imp.summary or {}).get('result')}")
    print(
        f"  whole pipeline {total:.2f} s = {rows / total:,.0f} rows/s; duplicate check "
        f"{duplicates:.2f} s ({100 * duplicates / total:.1f}% of the pipeline); "
        f"load {bench.load_average()}"
    )
    print("  time in: " + timer.summary())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=int, nargs="?", default=5_000)
    parser.add_argument("--seed", type=int, default=2006)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    config = bench.database_settings()
    bench.create_database(config)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as var_dir:
        try:
            bench.configure_django(var_dir)
            bench.build_dataset(args.seed)
            bench.IMPORT_ROWS = args.rows
            runner = bench.Bench(args)
            data = runner.import_file()
            print(f"\nImport of {args.rows:,} new places ({len(data) / 1e6:.1f} MB)")
            run_import(runner, data)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep:
                bench.drop_database(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
