"""`manage.py ingest` re-run on an unchanged folder: first run vs second run wall time (and database queries).

    .venv/bin/python bench/ingest_rerun.py [--files 200] [--file-kb 2] [--changed 5]

A folder of N small text/markdown files in nested directories is ingested into a sparse (BM25-only) bot through
the command, in this process (no broker: ingestion runs eagerly, as `manage.py ingest` does without workers).
Then, side by side in one run:
1. first run (everything created and ingested);
2. second run on the unchanged folder (every file hashed and compared, nothing written or queued);
3. `--sync --dry-run` after changing `--changed` files and deleting one;
4. the real `--sync` run (those files updated, one source retired).

Database: an embedded PostgreSQL 18 + pgvector in a temporary directory (bench/_pg.py), deleted at the end; or
BENCH_DATABASE_URL when set (recreated). Uploaded files go to a temporary MEDIA_ROOT.
"""

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _pg import embedded_postgres_server
from _setup import configure

PASSWORD = "bench-password-long-enough"
WORDS = (
    "harbour storm lighthouse signal fisherman festival season chart bakery bread river valley mountain engine "
    "turbine voltage circuit protocol packet latency server archive ledger invoice contract clause tenant policy"
).split()


def write_folder(root: Path, files: int, size_kb: int) -> Path:
    docs = root / "docs"
    randomiser = random.Random(7)
    for index in range(files):
        folder = docs / f"section-{index % 10}" / f"part-{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        words = [randomiser.choice(WORDS) for _ in range(size_kb * 1024 // 8)]
        suffix = ".md" if index % 2 else ".txt"
        (folder / f"page-{index}{suffix}").write_text(f"# Page {index}\n\n" + " ".join(words) + "\n")
    return docs


def timed_ingest(*args: str) -> tuple[float, int, str]:
    """Wall time, database queries, and the command's summary line."""
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out = io.StringIO()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        call_command("ingest", "--tenant", "bench-rerun", "--bot", "Rerun bot", "--no-progress", *args, stdout=out)
        elapsed = time.perf_counter() - started
    summary = [line for line in out.getvalue().splitlines() if "created " in line][-1]
    return elapsed, len(queries), summary


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--file-kb", type=int, default=2)
    parser.add_argument("--changed", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="minirag-bench-rerun-"))
    os.environ["MEDIA_ROOT"] = str(work / "media")
    try:
        if os.environ.get("BENCH_DATABASE_URL"):
            configure(fresh=True, database_url=os.environ["BENCH_DATABASE_URL"])
            return run(args, work)
        with embedded_postgres_server("minirag_bench_rerun") as database:
            configure(fresh=False, database_url=database.url)
            return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> int:
    from bots.services import bot_create
    from minirag.tenancy import tenant_context
    from tenants.services import tenant_bootstrap

    boot = tenant_bootstrap(
        name="Bench rerun", slug="bench-rerun", owner_email="o@bench-rerun.example", owner_password=PASSWORD
    )
    with tenant_context(boot.tenant):
        bot_create(name="Rerun bot", model="extractive")
    docs = write_folder(work, args.files, args.file_kb)
    print(f"{args.files} files of ~{args.file_kb} KB in {docs} (sparse bot, eager ingestion in this process)")

    rows = [("first run", *timed_ingest(str(docs)))]
    rows.append(("second run, unchanged", *timed_ingest(str(docs))))
    pages = sorted(docs.rglob("page-*"))
    for page in pages[: args.changed]:
        page.write_text(page.read_text() + "\nAn added closing line.\n")
    pages[-1].unlink()
    rows.append(
        (f"--sync --dry-run ({args.changed} changed, 1 deleted)", *timed_ingest("--sync", "--dry-run", str(docs)))
    )
    rows.append((f"--sync ({args.changed} changed, 1 deleted)", *timed_ingest("--sync", str(docs))))
    rows.append(("again, unchanged", *timed_ingest("--sync", str(docs))))

    width = max(len(row[0]) for row in rows)
    print(f"\n{'run':<{width}}  {'wall s':>7}  {'queries':>7}  summary")
    for name, elapsed, queries, summary in rows:
        print(f"{name:<{width}}  {elapsed:7.2f}  {queries:7d}  {summary.strip()}")
    first, second = rows[0][1], rows[1][1]
    print(f"\nsecond run / first run: {second / first:.3f} ({first / second:.0f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
