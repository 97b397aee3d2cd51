"""Operator console speed with many tenants, and with one tenant holding many sources.

    .venv/bin/python bench/console.py [--tenants 200] [--sources 10000] [--chunks 2000] [--runs 10]

Creates N tenants (each with 2 bots, 6 sources in mixed states and 30 usage events in its own schema), then
loads the admin tenants list (one page of 50, and all N on one page), a tenant page, one tenant's sources and
the cross-tenant "failed and stuck ingestions" page as a superuser through Django's test client. With
`--sources` (0 skips it) one more tenant gets that many sources (20 bots, every type and status, names like
`site/section-12/page-03456.html`) and one source with `--chunks` chunks, and the sources list (first page, a deep
page, search, each filter, all combined) and that source's page (first and last chunk page) are loaded.
Prints the number of SQL queries and the median/p95 time per page. Uses its own database
(BENCH_CONSOLE_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/minirag_bench_console), recreated at start.
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


def seed_big_tenant(sources: int, chunks: int):
    """One tenant with `sources` sources over 20 bots, and a source whose live version has `chunks` chunks."""
    import hashlib
    import uuid

    from django.utils import timezone

    from bots.models import BotProfile
    from minirag.tenancy import tenant_context
    from sources.models import Chunk, Document, Source
    from tenants.services import tenant_bootstrap

    tenant = tenant_bootstrap(name="Big", slug="big", owner_email="o@big.example", owner_password=PASSWORD).tenant
    types, states = ["url", "url", "upload", "text"], ["ready"] * 7 + ["error", "pending", "processing"]
    now = timezone.now()
    with tenant_context(tenant):
        bots = BotProfile.objects.bulk_create([BotProfile(name=f"bot {n:02d}") for n in range(20)])
        rows = [
            Source(
                bot_profile=bots[n % 20],
                name=f"site/section-{n % 40}/page-{n:05d}.html",
                external_id=f"https://docs.example/section-{n % 40}/page-{n:05d}.html",
                source_type=types[n % len(types)],
                status=states[n % len(states)],
                chunk_count=12 if states[n % len(states)] == "ready" else 0,
                error_message="Fetching failed: HTTP 503" if states[n % len(states)] == "error" else None,
                created_at=now - timedelta(seconds=n),
            )
            for n in range(sources)
        ]
        Source.objects.bulk_create(rows, batch_size=2000)
        big = Source.objects.create(
            bot_profile=bots[0], name="Big handbook", source_type="text", status="ready", chunk_count=chunks
        )
        body = " ".join(f"Sentence {n} of the handbook says something worth knowing." for n in range(40))
        document = Document.objects.create(
            source=big, version="v1", content_hash=hashlib.sha256(b"big").hexdigest(),
            char_count=chunks * (len(body) + 2), chunk_count=chunks, page_count=chunks // 4,
        )  # fmt: skip
        step = len(body) + 2  # the chunks are the paragraphs of one text, two newlines apart
        Chunk.objects.bulk_create(
            [
                Chunk(
                    document=document, source=big, point_id=uuid.uuid4(), order=n, content=body,
                    char_start=n * step, char_end=n * step + len(body), token_count=400, page=n // 4 + 1,
                    section=f"Big handbook › Chapter {n // 50} › Part {n // 10}",
                )
                for n in range(chunks)
            ],
            batch_size=2000,
        )  # fmt: skip
        Source.objects.filter(pk=big.pk).update(current_document=document)
    return tenant, bots, big


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
    parser.add_argument("--sources", type=int, default=10_000, help="sources in one more tenant (0: skip)")
    parser.add_argument("--chunks", type=int, default=2_000, help="chunks of that tenant's biggest source")
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
    if args.sources:
        big_tenant_pages(client, args)


def big_tenant_pages(client, args) -> None:
    started = time.perf_counter()
    tenant, bots, big = seed_big_tenant(args.sources, args.chunks)
    took = time.perf_counter() - started
    print(f"\nSeeded {args.sources:,} sources and a {args.chunks:,}-chunk source in {took:.0f} s")
    base = f"/admin/sources/source/?tenant={tenant.slug}"
    deep = args.sources // 50 // 2
    pages = [
        ("sources list, first page", base),
        (f"sources list, page {deep}", f"{base}&p={deep}"),
        ("search 'page-0777'", f"{base}&q=page-0777"),
        ("search 'section-7/' (250 hits)", f"{base}&q=section-7/"),
        ("filter: one bot", f"{base}&bot_profile__id__exact={bots[3].pk}"),
        ("filter: type upload", f"{base}&source_type__exact=upload"),
        ("filter: status error", f"{base}&status__exact=error"),
        ("bot + type + status + search", f"{base}&bot_profile__id__exact={bots[3].pk}&source_type__exact=url"
         "&status__exact=ready&q=section"),
        (f"source page, {args.chunks:,} chunks, first page", f"/admin/sources/source/{big.pk}/change/?tenant=big"),
        ("source page, last chunk page", f"/admin/sources/source/{big.pk}/change/?tenant=big&chunks=999999"),
    ]  # fmt: skip
    print(f"\n{args.sources:,} sources in one tenant, {args.runs} runs per page\n")
    print(f"| {'page':42} | queries | median ms | p95 ms | KiB |")
    print(f"|{'-' * 44}|---------|-----------|--------|-----|")
    for label, url in pages:
        queries, median, p95, size = measure(client, url, args.runs, cold=False)
        print(f"| {label:42} | {queries:7} | {median:9.1f} | {p95:6.1f} | {size // 1024:3} |")


if __name__ == "__main__":
    main()
