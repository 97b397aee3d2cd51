"""Operator console speed with many tenants.

    .venv/bin/python bench/console.py [--tenants 200] [--runs 10]

Creates N tenants (each with 2 bots, 6 sources in mixed states and 30 usage events in its own schema), then
loads the admin tenants list (one page of 50, and all N on one page), a tenant page, one tenant's sources and
the cross-tenant "failed and stuck ingestions" page as a superuser through Django's test client. Prints the
number of SQL queries and the median/p95 time per page. Uses its own database (BENCH_CONSOLE_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/minirag_bench_console), recreated at start.
"""

import argparse
import os
import statistics
import time
from datetime import timedelta

os.environ.setdefault(
    "BENCH_DATABASE_URL",
    os.environ.get("BENCH_CONSOLE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/minirag_bench_console"),
)

from _setup import configure, percentile

PASSWORD = "bench-password-long-enough"


def seed(count: int) -> list:
    from django.utils import timezone

    from bots.models import BotProfile
    from minirag.tenancy import tenant_context
    from sources.models import Source
    from tenants.services import tenant_bootstrap
    from usage.models import UsageEvent

    tenants = []
    started = time.perf_counter()
    now = timezone.now()
    for index in range(count):
        tenant = tenant_bootstrap(
            name=f"Tenant {index}", slug=f"t-{index}", owner_email=f"o@t{index}.example", owner_password=PASSWORD
        ).tenant
        with tenant_context(tenant):
            bots = [BotProfile.objects.create(name=f"bot {n}") for n in range(2)]
            states = ["ready", "ready", "ready", "error", "pending", "processing"]
            Source.objects.bulk_create(
                [
                    Source(
                        bot_profile=bots[n % 2],
                        name=f"source {n}",
                        source_type="text",
                        content="x",
                        status=state,
                        chunk_count=40 if state == "ready" else 0,
                        error_message="Fetching failed: HTTP 500" if state == "error" else None,
                        processing_started_at=now - timedelta(hours=2) if state == "processing" else None,
                    )
                    for n, state in enumerate(states)
                ]
            )
            UsageEvent.objects.bulk_create(
                [
                    UsageEvent(
                        model="gpt-4o-mini",
                        prompt_tokens=500,
                        completion_tokens=80,
                        total_tokens=580,
                        created_at=now - timedelta(days=n),
                    )
                    for n in range(30)
                ]
            )
        tenants.append(tenant)
        if (index + 1) % 50 == 0:
            print(f"  … {index + 1}/{count} tenants seeded ({time.perf_counter() - started:.0f} s)", flush=True)
    return tenants


def measure(client, url: str, runs: int, *, cold: bool = True) -> tuple[int, float, float, int]:
    """Queries and timings of `url`. `cold`: the console's stats cache is emptied before every run."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm-up (template loading, connection)
    timings = []
    queries = 0
    for _ in range(runs):
        if cold:
            cache.clear()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured)
    return queries, statistics.median(timings), percentile(timings, 95), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    configure(fresh=True)
    from django.test import Client

    from tenants.models import User

    print(f"Seeding {args.tenants} tenants …", flush=True)
    tenants = seed(args.tenants)
    operator = User.objects.create_superuser(email="ops@bench.example", password=PASSWORD)
    client = Client()
    client.force_login(operator, backend="tenants.backends.OperatorBackend")

    pages = [
        ("tenants list, page of 50 (cold stats)", "/admin/tenants/tenant/", True),
        ("tenants list, page of 50 (cached stats)", "/admin/tenants/tenant/", False),
        (f"tenants list, all {args.tenants} (cold stats)", "/admin/tenants/tenant/?all=", True),
        (f"tenants list, all {args.tenants} (cached stats)", "/admin/tenants/tenant/?all=", False),
        ("tenant page", f"/admin/tenants/tenant/{tenants[0].pk}/change/", True),
        ("tenant's sources (sources admin)", f"/admin/sources/source/?tenant={tenants[0].slug}", True),
        (f"failed & stuck, {args.tenants} tenants", "/admin/sources/source/problems/", True),
    ]
    print(f"\n{args.tenants} tenants, {args.runs} runs per page (Django test client, DEBUG=false)\n")
    print(f"| {'page':42} | queries | median ms | p95 ms | KiB |")
    print(f"|{'-' * 44}|---------|-----------|--------|-----|")
    for label, url, cold in pages:
        queries, median, p95, size = measure(client, url, args.runs, cold=cold)
        print(f"| {label:42} | {queries:7} | {median:9.1f} | {p95:6.1f} | {size // 1024:3} |")
    naive = args.tenants * 4
    print(f"\nA per-tenant-per-column approach would need about {naive} queries for the full list.")


if __name__ == "__main__":
    main()
