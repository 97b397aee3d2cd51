"""Chat overhead without the LLM at scale, on the PostgreSQL knowledge index, through the real HTTP API.

    .venv/bin/python bench/chat_scale.py [--sizes 1000,10000,100000] [--hybrid 100000] [--tenants 1000]
                                         [--compare CANDIDATE_FACTOR=4,8 --compare FEEDBACK_DOCS=0,5]
                                         [--big 100000] [--samples 50] [--out results.json]

Starts its own embedded PostgreSQL 18 + pgvector in a temporary directory (tuned: shared_buffers 512MB,
work_mem 16MB, max_connections 300; deleted at the end), and the production web server command (gunicorn
gthread, 2 workers × 8 threads) against it. Bots use the zero-key `extractive` model: a chat turn is
everything but the LLM call (bot and chat checks, history, user message, retrieval, extractive answer,
assistant message + usage + counters), so its latency is chat's own overhead.

1. `--sizes`: one tenant per size with that many chunks in one bot (synthetic Zipfian text loaded by COPY,
   see bench/_corpus.py). For each: `sources.retrieval.retrieve` in process (p50/p95), EXPLAIN (ANALYZE,
   BUFFERS) of the search statement for a typical question, and POST /v1/chat (JSON) p50/p95 through HTTP,
   one client, a different 5–10 word question per request.
2. `--hybrid N`: a tenant with N chunks that also have 384-d random unit vectors (pgvector, HNSW); the bot
   embeds the question with the fake OpenAI-compatible server (minirag/tests/fake_openai.py, in this process
   on 127.0.0.1, model openai/fake-embed-384): dense + BM25 fused with RRF. `--compare KNOB=A,B` then times
   retrieve() in process with each value of a ranking knob of sources.index.postgres (rounds A B A B).
3. `--tenants T --big B`: the size tenants are dropped; T-1 small tenants of ~(1M - B)/(T-1) chunks are
   created, a small tenant is measured, then a big tenant of B chunks is added (≈1M chunks in the instance)
   and the same small tenant is measured again (three rounds each, and one round where every request
   follows one to another tenant: another small one before, the big one after), then the big tenant.

Every measurement prints the load average and the CPU seconds of the web server, PostgreSQL and this process.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _pg import FAST_LOAD, embedded_postgres_server
from _setup import CpuMeter, bench_environment, configure, free_port, percentile, process_tree, start_gunicorn

PASSWORD = "bench-password-long-enough"
DENSE_MODEL = "openai/fake-embed-384"
WARMUP = 5


def log(message: str) -> None:
    print(message, flush=True)


def fmt(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, max {max(values):.1f} ms"


def new_tenant(slug: str):
    from tenants.models import Tenant
    from tenants.services import tenant_bootstrap

    boot = tenant_bootstrap(name=slug, slug=slug, owner_email=f"owner@{slug}.example", owner_password=PASSWORD)
    # The "pro" plan (5,000 sources, 2M chunks, 20,000 chats a day): quotas are checked as in production, but
    # the "free" plan's 200 sources would stop the 1,400-document runs.
    Tenant.objects.filter(pk=boot.tenant.pk).update(plan="pro")
    boot.tenant.plan = "pro"
    return boot.tenant, boot.api_token.raw_token


def new_bot(tenant, name: str, *, fake=None):
    from bots.services import bot_create
    from minirag.tenancy import tenant_context

    with tenant_context(tenant):
        if fake is None:
            return bot_create(name=name, model="extractive")
        return bot_create(
            name=name,
            model="extractive",
            embedding_model=DENSE_MODEL,
            credentials={"api_key": "bench-key", "api_base": fake.base_url},
        )


def populate(tenant, bot, chunks: int, corpus, *, seed: int, dense: bool = False, quiet: bool = False) -> dict:
    from _corpus import load

    from minirag.tenancy import tenant_context

    with tenant_context(tenant):
        return load(
            bot,
            chunks,
            corpus,
            seed=seed,
            dense_model=DENSE_MODEL if dense else None,
            dense_dim=384,
            log=(lambda _m: None) if quiet else log,
        )


def capture_search_sql(tenant, bot, question: str) -> tuple[str, dict]:
    from django.db import connection

    from minirag.tenancy import tenant_context
    from sources.retrieval import retrieve

    captured = {}

    def wrapper(execute, sql, params, many, context):
        if "fused AS" in sql:
            captured["sql"], captured["params"] = sql, params
        return execute(sql, params, many, context)

    with tenant_context(tenant), connection.execute_wrapper(wrapper):
        retrieve(bot=bot, query=question)
    return captured["sql"], captured["params"]


def explain(tenant, bot, question: str) -> str:
    from django.db import connection

    from minirag.tenancy import tenant_context

    sql, params = capture_search_sql(tenant, bot, question)
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def measure_in_process(tenant, bot, questions: list[str]) -> dict:
    """retrieve() end to end, and its parts: query embedding (hybrid only) and the index search statement."""
    from django.db import connection

    from minirag.tenancy import tenant_context
    from sources.retrieval import retrieve

    statement: list[float] = []

    def wrapper(execute, sql, params, many, context):
        if "fused AS" not in sql:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statement.append((time.perf_counter() - started) * 1000)

    totals, found = [], []
    with tenant_context(tenant), connection.execute_wrapper(wrapper):
        for index, question in enumerate(questions):
            started = time.perf_counter()
            chunks = retrieve(bot=bot, query=question)
            elapsed = (time.perf_counter() - started) * 1000
            if index >= WARMUP:
                totals.append(elapsed)
                found.append(len(chunks))
    return {"retrieve": totals, "statement": statement[WARMUP:], "found": found}


def measure_http(base: str, token: str, bot_id: str, questions: list[str]) -> dict:
    import httpx

    timings, sources = [], []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for index, question in enumerate(questions):
            started = time.perf_counter()
            response = client.post("/v1/chat", json={"bot_profile_id": bot_id, "message": question, "stream": False})
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"chat answered {response.status_code}: {response.text[:500]}")
            if index >= WARMUP:
                timings.append(elapsed)
                sources.append(len(response.json()["sources"]))
    return {"http": timings, "sources": sources}


def database_size(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("SELECT pg_size_pretty(pg_database_size(%s))", (name,)).fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--hybrid", type=int, default=100_000, help="chunks of the hybrid tenant (0: skip)")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="KNOB=A,B",
        help="e.g. CANDIDATE_FACTOR=4,8 or FEEDBACK_DOCS=0,5 (sources.index.postgres): on the hybrid tenant, "
        "retrieve() in process with each value, rounds alternating A B A B; repeatable",
    )
    parser.add_argument("--tenants", type=int, default=1000, help="tenants of the 1M-chunk instance (0: skip)")
    parser.add_argument("--big", type=int, default=100_000, help="chunks of the big tenant in that instance")
    parser.add_argument("--instance-chunks", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--out", default="", help="also write every number as JSON here")
    parser.add_argument("--explain-dir", default="", help="write each EXPLAIN output here")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]
    results: dict = {"args": vars(args), "cpus": os.cpu_count(), "measurements": []}

    def save() -> None:
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))

    with embedded_postgres_server("minirag_bench_scale", tuning=FAST_LOAD) as database:
        media = tempfile.mkdtemp(prefix="minirag-bench-media-")
        try:
            return run(args, sizes, results, save, database, media)
        finally:
            shutil.rmtree(media, ignore_errors=True)


def run(args, sizes, results, save, database, media) -> int:
    configure(fresh=False, database_url=database.url, MEDIA_ROOT=media)
    from _corpus import Corpus, check_postings

    from minirag.tenancy import tenant_context
    from minirag.tests.fake_openai import FakeOpenAI

    corpus = Corpus(seed=1)
    questions = corpus.questions(WARMUP + args.samples, seed=5)
    log(f"questions, e.g.: {questions[0]!r}, {questions[1]!r}")
    fake = FakeOpenAI().start()
    env = bench_environment(database.url, MEDIA_ROOT=media)
    port = free_port()
    server = start_gunicorn(port, workers=args.web_workers, threads=args.web_threads, env=env)
    base = f"http://127.0.0.1:{port}"
    groups = {
        "web": lambda: process_tree(server.pid),
        "postgres": database.server_pids,
        "bench": lambda: [os.getpid()],
    }

    def measure(label: str, tenant, token, bot, chunks: int, *, rounds: int = 1, with_explain: bool = True) -> dict:
        entry: dict = {"label": label, "chunks_in_tenant": chunks}
        with CpuMeter(groups) as meter:
            in_process = measure_in_process(tenant, bot, questions)
        entry["in_process"] = in_process
        entry["in_process_cpu"] = meter.summary()
        log(f"   retrieve() in process: {fmt(in_process['retrieve'])}; search statement {fmt(in_process['statement'])}")
        log(f"     chunks found per question: min {min(in_process['found'])}; {meter.summary()}")
        entry["http_rounds"] = []
        for number in range(rounds):
            with CpuMeter(groups) as meter:
                http = measure_http(base, token, str(bot.pk), questions)
            entry["http_rounds"].append({**http, "cpu": meter.summary()})
            log(f"   POST /v1/chat (HTTP, round {number + 1}): {fmt(http['http'])}; {meter.summary()}")
        if with_explain:
            plan = explain(tenant, bot, questions[WARMUP + 1])
            entry["explain_question"] = questions[WARMUP + 1]
            entry["explain"] = plan
            if args.explain_dir:
                Path(args.explain_dir).mkdir(parents=True, exist_ok=True)
                (Path(args.explain_dir) / f"{label}.txt").write_text(f"-- {questions[WARMUP + 1]}\n{plan}\n")
            last = [line for line in plan.splitlines() if "Execution Time" in line or "Planning Time" in line]
            log("   EXPLAIN: " + "; ".join(line.strip() for line in last))
        results["measurements"].append(entry)
        save()
        return entry

    try:
        size_tenants = []
        for number, size in enumerate(sizes):
            log(f"== tenant with {size:,} chunks (sparse, extractive bot)")
            tenant, token = new_tenant(f"size-{size}")
            bot = new_bot(tenant, f"bot {size}")
            stats = populate(tenant, bot, size, corpus, seed=100 + number)
            with tenant_context(tenant):
                check_postings(bot)
            log(f"   loaded in {stats['seconds']:.0f}s ({stats['postings']:,} postings); "
                f"database {database_size(database.admin_url, database.name)}")  # fmt: skip
            results.setdefault("loads", []).append({"label": f"sparse {size}", **stats})
            measure(f"sparse-{size}", tenant, token, bot, size, rounds=2)
            size_tenants.append(tenant)

        if args.hybrid:
            log(f"== tenant with {args.hybrid:,} chunks, hybrid (384-d vectors + BM25), fake embedder")
            tenant, token = new_tenant("hybrid")
            bot = new_bot(tenant, "hybrid bot", fake=fake)
            stats = populate(tenant, bot, args.hybrid, corpus, seed=300, dense=True)
            log(f"   loaded in {stats['seconds']:.0f}s; database {database_size(database.admin_url, database.name)}")
            results.setdefault("loads", []).append({"label": f"hybrid {args.hybrid}", **stats})
            entry = measure(f"hybrid-{args.hybrid}", tenant, token, bot, args.hybrid, rounds=2)
            embed = embed_timings(tenant, bot, questions)
            entry["query_embedding"] = embed
            log(f"   query embedding alone (fake server over HTTP through LiteLLM): {fmt(embed)}")
            for comparison in args.compare:
                knob, values = comparison.split("=", 1)
                numbers = [float(value) if "." in value else int(value) for value in values.split(",")]
                entry.setdefault("comparisons", {})[knob] = compare_knob(
                    tenant, bot, questions, knob, numbers, groups, explain_dir=args.explain_dir
                )
            save()
            size_tenants.append(tenant)

        if args.tenants:
            context = {"base": base, "questions": questions, "groups": groups}
            instance(args, results, save, database, corpus, size_tenants, measure, context)
    finally:
        server.terminate()
        server.wait(timeout=30)
        fake.stop()
    save()
    return 0


def compare_knob(tenant, bot, questions: list[str], knob: str, values: list, groups, *, explain_dir: str = "",
                 rounds: int = 4) -> dict:  # fmt: skip
    """retrieve() with each value of one ranking knob of the PostgreSQL index, in rounds A B A B … so that the
    machine's noise hits all values alike; EXPLAIN of one question per value into `explain_dir`."""
    from sources.index import postgres

    shipped = getattr(postgres, knob)
    timings = {value: {"retrieve": [], "statement": [], "cpu": []} for value in values}
    try:
        for _ in range(rounds):
            for value in values:
                setattr(postgres, knob, value)
                with CpuMeter(groups) as meter:
                    measured = measure_in_process(tenant, bot, questions)
                timings[value]["retrieve"] += measured["retrieve"]
                timings[value]["statement"] += measured["statement"]
                timings[value]["cpu"].append(meter.summary())
        for value in values:
            setattr(postgres, knob, value)
            plan = explain(tenant, bot, questions[WARMUP + 1])
            if explain_dir:
                Path(explain_dir).mkdir(parents=True, exist_ok=True)
                (Path(explain_dir) / f"hybrid-{knob}-{value}.txt").write_text(plan + "\n")
            timings[value]["execution"] = [line.strip() for line in plan.splitlines() if "Execution Time" in line]
    finally:
        setattr(postgres, knob, shipped)
    first = percentile(timings[values[0]]["statement"], 50)
    for value in values:
        measured = timings[value]
        ratio = percentile(measured["statement"], 50) / first
        log(f"   {knob} {value}: retrieve() {fmt(measured['retrieve'])}; statement {fmt(measured['statement'])}; "
            f"statement p50 ×{ratio:.2f} of {values[0]}; EXPLAIN {'; '.join(measured['execution'])}")  # fmt: skip
        for summary in measured["cpu"]:
            log(f"     {summary}")
    return {str(value): measured for value, measured in timings.items()}


def embed_timings(tenant, bot, questions: list[str]) -> list[float]:
    from minirag.tenancy import tenant_context
    from sources.retrieval import query_embedding

    timings = []
    with tenant_context(tenant):
        for index, question in enumerate(questions):
            started = time.perf_counter()
            query_embedding(bot=bot, query=question)
            if index >= WARMUP:
                timings.append((time.perf_counter() - started) * 1000)
    return timings


def instance(args, results, save, database, corpus, size_tenants, measure, context) -> None:
    from tenants.schema import drop_tenant_schema

    for tenant in size_tenants:  # the instance starts empty
        drop_tenant_schema(tenant.schema_name)
        tenant.delete()
    small_count = args.tenants - 1
    per_small = (args.instance_chunks - args.big) // small_count
    log(f"== instance: {small_count} small tenants × {per_small} chunks, then one of {args.big:,}")
    started = time.perf_counter()
    smalls = []
    for number in range(small_count):
        tenant, token = new_tenant(f"small-{number:04d}")
        bot = new_bot(tenant, "small bot")
        populate(tenant, bot, per_small, corpus, seed=1000 + number, quiet=True)
        smalls.append((tenant, token, bot))
        if number % 50 == 49:
            log(f"   … {number + 1} small tenants ({time.perf_counter() - started:.0f}s)")
    build_small = time.perf_counter() - started
    results["instance_build"] = {"small_tenants": small_count, "chunks_each": per_small, "seconds": build_small}
    size = database_size(database.admin_url, database.name)
    log(f"   {small_count} small tenants in {build_small:.0f}s; database {size}")
    tenant, token, bot = smalls[0]
    in_instance = small_count * per_small
    log(f"== small tenant ({per_small} chunks), {small_count} tenants, {in_instance:,} chunks in the instance")
    measure("small-before-big", tenant, token, bot, per_small, rounds=3)
    _other, other_token, other_bot = smalls[1]
    log("== small tenant, each request after one to another small tenant (interleaved, before the big one)")
    entry = interleaved(context, token, bot, other_token, other_bot)
    results["small_interleaved_before"] = entry
    log(f"   small tenant interleaved with another small one: {fmt(entry['http'])}; {entry['cpu']}")

    log(f"== adding the big tenant ({args.big:,} chunks)")
    big_tenant, big_token = new_tenant("big")
    big_bot = new_bot(big_tenant, "big bot")
    stats = populate(big_tenant, big_bot, args.big, corpus, seed=2000)
    results.setdefault("loads", []).append({"label": f"big {args.big}", **stats})
    total = small_count * per_small + args.big
    log(f"   loaded in {stats['seconds']:.0f}s; {total:,} chunks in {args.tenants} tenants; "
        f"database {database_size(database.admin_url, database.name)}")  # fmt: skip
    results["instance_chunks"] = total
    measure("big-in-instance", big_tenant, big_token, big_bot, args.big, rounds=1)
    log(f"== small tenant again, with the big tenant in the instance ({total:,} chunks)")
    measure("small-after-big", tenant, token, bot, per_small, rounds=3)
    log("== small tenant, each request after one to the big tenant (interleaved)")
    entry = interleaved(context, token, bot, big_token, big_bot)
    results["small_interleaved_after"] = entry
    log(f"   small tenant interleaved with big: {fmt(entry['http'])}; {entry['cpu']}")
    save()


def interleaved(context, token, bot, big_token, big_bot) -> dict:
    """The small tenant's chat latency when every request follows one to another tenant (the big one: cache
    pressure; before it exists, another small one for comparison)."""
    import httpx

    questions, timings = context["questions"], []
    small = httpx.Client(base_url=context["base"], headers={"Authorization": f"Bearer {token}"}, timeout=60)
    big = httpx.Client(base_url=context["base"], headers={"Authorization": f"Bearer {big_token}"}, timeout=60)
    with small, big, CpuMeter(context["groups"]) as meter:
        for index, question in enumerate(questions):
            response = big.post("/v1/chat", json={"bot_profile_id": str(big_bot.pk), "message": question})
            assert response.status_code == 200, response.text[:300]
            started = time.perf_counter()
            response = small.post("/v1/chat", json={"bot_profile_id": str(bot.pk), "message": question})
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text[:300]
            if index >= WARMUP:
                timings.append(elapsed)
    return {"http": timings, "cpu": meter.summary()}


if __name__ == "__main__":
    sys.exit(main())
