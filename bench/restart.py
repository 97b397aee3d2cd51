"""Restart time with many tenants: how long `make run` takes to be ready again when nothing changed.

    .venv/bin/python bench/restart.py [--tenants 1000] [--samples 3] [--skip-launcher]

Starts a throwaway embedded PostgreSQL (temporary data directory, deleted at the end; `make run`'s var/pgdata is
never touched) and Redis, migrates, creates the demo tenant and N tenants (every tenant a real schema with all
tenant tables, created the way bootstrap creates them), then times:

1. the migrate step of a warm restart (`python -m minirag.startup --migrate-only`, a fresh process as under
   `make run`), and the stale-schema query alone;
2. the whole startup step (migrate + demo tenant + collectstatic);
3. a whole warm `make run` (`python -m minirag.launcher run`, starting this embedded PostgreSQL itself through
   MINIRAG_PGDATA; the broker is the bench's Redis) until web, worker and beat all answer, then Ctrl-C
   (skipped with --skip-launcher, and when `make run` is up: both would share var/).
"""

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minirag import runtime  # noqa: E402


def bench_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        REDIS_URL=broker_url,
        DJANGO_SETTINGS_MODULE="minirag.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),
        JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        ENCRYPTION_KEYS="YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktYiE=",
        QDRANT_URL="",
        KNOWLEDGE_INDEX="postgres",
        LOG_LEVEL="WARNING",
        MINIRAG_ENV_FILE=os.devnull,
        MINIRAG_RUNTIME_FILE="",
        **extra,
    )
    return environment


SETUP = """
import sys, time
import django
django.setup()
from django.core.management import call_command
from django.db import transaction
from minirag.startup import migrate_pending
from tenants.models import Tenant, schema_name_for_slug
from tenants.schema import create_tenant_schema

target, token_file = int(sys.argv[1]), sys.argv[2]
migrate_pending()
call_command("ensure_demo", "--token-file", token_file, verbosity=0)
existing = Tenant.objects.filter(slug__startswith="restart-").count()
started = time.perf_counter()
for first in range(existing, target, 50):
    with transaction.atomic():
        for index in range(first, min(first + 50, target)):
            slug = f"restart-{index}"
            tenant = Tenant.objects.create(name=slug, slug=slug, schema_name=schema_name_for_slug(slug))
            create_tenant_schema(tenant.schema_name)
    if first % 200 == 0:
        print(f"  ... {first}/{target} tenants ({time.perf_counter() - started:.0f}s)", flush=True)
print(f"created {target - existing} tenants in {time.perf_counter() - started:.1f}s", flush=True)
"""

QUERY = """
import time
import django
django.setup()
from minirag.startup import schemas_missing_migrations, tenant_migration_keys
from tenants.models import Tenant
keys = tenant_migration_keys()
timings = []
for _ in range(5):
    started = time.perf_counter()
    stale = schemas_missing_migrations(keys)
    timings.append(time.perf_counter() - started)
print(Tenant.objects.count(), len(stale), min(timings), sorted(timings)[2])
"""


def timed(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=environment, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def launcher_ready_seconds(environment: dict[str, str]) -> tuple[float, float]:
    """(wall seconds until the banner, the launcher's own figure); then Ctrl-C, and wait for it to stop."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "minirag.launcher", "run"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reported = None
    try:
        for line in process.stdout:
            if "MiniRAG is up in" in line:
                reported = float(line.split("MiniRAG is up in ")[1].split("s")[0])
                break
        wall = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    if reported is None:
        raise SystemExit("the launcher never reported ready")
    return wall, reported


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--skip-launcher", action="store_true")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="minirag-bench-restart-"))
    postgres = runtime.EmbeddedPostgres(workdir / "pgdata").start(tune=True)
    redis = runtime.EmbeddedRedis(workdir / "redis", persist=False).start()
    try:
        url = postgres.url("minirag")
        runtime.ensure_database(url)
        environment = bench_env(url, redis.url(), STATIC_ROOT=str(workdir / "static"))
        token_file = str(workdir / "demo-token.txt")
        subprocess.run([sys.executable, "-c", SETUP, str(options.tenants), token_file], cwd=ROOT, env=environment,
                       check=True)  # fmt: skip

        count, stale, query_min, query_median = subprocess.run(
            [sys.executable, "-c", QUERY], cwd=ROOT, env=environment, check=True, capture_output=True, text=True
        ).stdout.split()
        migrate = [
            timed([sys.executable, "-m", "minirag.startup", "--migrate-only"], environment)
            for _ in range(options.samples)
        ]
        full = [
            timed([sys.executable, "-m", "minirag.startup", "--token-file", token_file], environment)
            for _ in range(options.samples)
        ]
        print(f"\n{count} tenants (incl. demo), {stale} stale schema(s)")
        print(f"stale-schema query (in process): min {float(query_min) * 1000:.0f} ms, "
              f"median {float(query_median) * 1000:.0f} ms")  # fmt: skip
        print(f"migrate step, fresh process (python -m minirag.startup --migrate-only): "
              f"median {statistics.median(migrate):.2f} s  {[round(t, 2) for t in migrate]}")  # fmt: skip
        print(f"whole startup step (migrate + demo + collectstatic): "
              f"median {statistics.median(full):.2f} s  {[round(t, 2) for t in full]}")  # fmt: skip

        if options.skip_launcher:
            return
        if runtime.published():
            print("make run is up: skipping the whole-launcher measurement (it would share var/)")
            return
        # The launcher starts (and stops) the embedded PostgreSQL itself, as `make run` does.
        postgres.stop()
        launcher_env = dict(
            environment, PORT=str(runtime.free_port()), MINIRAG_RUNTIME_FILE=str(workdir / "rt.env"),
            MINIRAG_PGDATA=str(workdir / "pgdata"),
        )  # fmt: skip
        launcher_env.pop("DATABASE_URL")
        runs = [launcher_ready_seconds(launcher_env) for _ in range(options.samples)]
        print(f"warm `make run` (embedded PostgreSQL stopped before) until web, worker and beat answer: "
              f"median {statistics.median(wall for wall, _ in runs):.2f} s wall, "
              f"{[round(wall, 2) for wall, _ in runs]}")  # fmt: skip
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
