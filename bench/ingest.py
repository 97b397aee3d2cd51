"""Ingestion benchmark in one process: throughput (sparse only and with dense vectors), pipeline overhead, peak memory.

    .venv/bin/python bench/ingest.py [--docs 200] [--doc-kb 20] [--embed-delay 0.3] [--skip-memory]

1. Throughput: a generated corpus (default 200 documents × 20 KB of prose) is ingested end to end through the
   services the API uses (text sources → `source_ingest` → the Celery task, eager in-process → extract,
   chunk, chunk rows + BM25 postings (+ pgvector embeddings) in one transaction per batch, events).
   Reported as chunks/s and MB/s. (bench/ingest_workers.py measures the same through the HTTP API and real
   Celery worker processes.)
   a) offline: sparse (BM25-style) vectors only — no keys, no network;
   b) dense: + 1536-d vectors from the fake OpenAI-compatible server (minirag/tests/fake_openai.py) over real
      HTTP through LiteLLM, with a fixed per-call delay standing in for a real provider's latency.
2. Overhead: the same chunk texts sent to the bare embedder (the same client code, same batches) — the
   pipeline's time beyond that is its overhead; the target is ≤ 20 % of the total with a real-cost embedder.
3. Peak worker memory (VmHWM of a fresh subprocess that only ingests one source): a 50 MB text file and a
   300-page PDF, sparse only.

Database: an embedded PostgreSQL 18 + pgvector in a temporary directory (bench/_pg.py), deleted at the end; or
BENCH_DATABASE_URL when set (created if missing; the benchmark works in a tenant of its own and drops it).
"""

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DENSE_MODEL = "openai/fake-embed-1536"

WORDS = (
    "harbour storm lighthouse signal fisherman festival season chart bakery bread river valley mountain "
    "engine turbine voltage circuit protocol packet latency server archive ledger invoice contract clause "
    "tenant policy retention backup schedule migration schema index vector embedding retrieval citation "
    "museum painting sculpture gallery orchestra violin concert harvest orchard apple cider winter summer"
).split()


def _environment(database_url: str, media_root: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(48),
        JWT_SIGNING_KEY=env.get("JWT_SIGNING_KEY") or secrets.token_urlsafe(48),
        ENCRYPTION_KEYS=env.get("ENCRYPTION_KEYS") or "YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktYiE=",
        CELERY_TASK_ALWAYS_EAGER="true",
        CELERY_BROKER_URL="",
        QDRANT_URL="",
        KNOWLEDGE_INDEX="postgres",
        MINIRAG_ENV_FILE="/dev/null",
        MEDIA_ROOT=media_root,
        LOG_LEVEL="WARNING",
        MINIRAG_ALLOW_PRIVATE_NETWORK="true",  # the fake embedder listens on 127.0.0.1
        MAX_UPLOAD_BYTES=str(80 * 1024 * 1024),  # the memory probe stores a 50 MB file
        DJANGO_SETTINGS_MODULE="minirag.settings",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    return env


def _ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_schemas", "--shared", verbosity=0)


def _document(rng: random.Random, size: int) -> str:
    parts, length = [], 0
    while length < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
        parts.append(sentence + ("\n\n" if rng.random() < 0.2 else " "))
        length += len(parts[-1])
    return "".join(parts)[:size]


def _bootstrap_tenant():
    from tenants.services import tenant_bootstrap

    slug = f"bench-ingest-{secrets.token_hex(3)}"
    return tenant_bootstrap(name="Ingest bench", slug=slug, owner_email=f"o@{slug}.example",
                            owner_password="bench-password-long-enough").tenant  # fmt: skip


def _drop_tenant(tenant) -> None:
    from tenants.schema import drop_tenant_schema

    drop_tenant_schema(tenant.schema_name)
    tenant.delete()


def _ingest_corpus(bot, documents: list[str]) -> tuple[float, int, int]:
    from sources import services
    from sources.models import Source, SourceStatus

    started = time.perf_counter()
    ids = []
    for index, text in enumerate(documents):
        source = services.source_create(bot_profile_id=bot.pk, name=f"doc {index}", source_type="text", content=text)
        services.source_ingest(source=source, trigger="bench")  # autocommit: runs (eagerly) right here
        ids.append(source.pk)
    elapsed = time.perf_counter() - started
    rows = list(Source.objects.filter(pk__in=ids).values_list("status", "chunk_count", "error_message"))
    failed = [row for row in rows if row[0] != SourceStatus.READY]
    if failed:
        raise SystemExit(f"{len(failed)} documents failed, e.g. {failed[0]}")
    return elapsed, sum(row[1] for row in rows), len(ids)


def throughput(args) -> dict:
    from django.conf import settings

    from bots.services import bot_create
    from minirag.integrations import embeddings
    from minirag.tenancy import tenant_context
    from minirag.tests.fake_openai import FakeOpenAI
    from sources.models import Chunk

    rng = random.Random(42)
    documents = [_document(rng, args.doc_kb * 1024) for _ in range(args.docs)]
    megabytes = sum(len(doc.encode()) for doc in documents) / 1e6
    tenant = _bootstrap_tenant()
    fake = FakeOpenAI().start()
    results: dict = {"docs": args.docs, "doc_kb": args.doc_kb, "megabytes": round(megabytes, 2)}
    try:
        with tenant_context(tenant):
            sparse_bot = bot_create(name="sparse")
            elapsed, chunks, _ = _ingest_corpus(sparse_bot, documents)
            results["sparse"] = {"seconds": elapsed, "chunks": chunks}
            print(f"  sparse run done in {elapsed:.1f} s", flush=True)

            # Warm up LiteLLM (its import alone takes seconds) so neither measurement below pays for it.
            warm = embeddings.EmbeddingConfig(model=DENSE_MODEL, api_key="k", api_base=fake.base_url)
            embeddings.embed_batch(warm, ["warm up"])
            fake.delay = args.embed_delay
            dense_bot = bot_create(
                name="dense", embedding_model=DENSE_MODEL, credentials={"api_key": "k", "api_base": fake.base_url}
            )
            elapsed, chunks, _ = _ingest_corpus(dense_bot, documents)
            calls = len(fake.embedding_calls)
            results["dense"] = {"seconds": elapsed, "chunks": chunks, "embedding_calls": calls}
            print(f"  dense run done in {elapsed:.1f} s", flush=True)

            # The bare embedder: the same texts in the same per-document batches, nothing else.
            fake.reset()
            fake.delay = args.embed_delay
            config = embeddings.EmbeddingConfig(model=DENSE_MODEL, api_key="k", api_base=fake.base_url)
            batches = {}
            for source_id, content in (
                Chunk.objects.filter(source__bot_profile=dense_bot).order_by("source_id", "order")
                .values_list("source_id", "content")
            ):  # fmt: skip
                batches.setdefault(source_id, []).append(content)
            started = time.perf_counter()
            size = settings.EMBEDDING_BATCH_SIZE
            for texts in batches.values():
                for start in range(0, len(texts), size):
                    embeddings.embed_batch(config, texts[start : start + size])
            results["bare_embedder"] = {"seconds": time.perf_counter() - started, "calls": len(fake.embedding_calls)}
    finally:
        fake.stop()
        _drop_tenant(tenant)
    return results


PROBE = r"""
import os, sys, time, json
sys.path.insert(0, sys.argv[1])


def status_mb(field):
    # /proc/self/status: VmHWM (peak RSS) belongs to this process image; ru_maxrss would carry the
    # parent's peak over fork + exec.
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(field)


import django
django.setup()
from django.core.files import File
from bots.services import bot_create
from minirag.tenancy import tenant_context
from sources import services
from sources.models import Source
from tenants.models import Tenant

tenant = Tenant.objects.get(slug=sys.argv[2])
path = sys.argv[3]
# warm the imports the pipeline needs, so the baseline is the idle worker, not an empty interpreter
import pypdf, docx, trafilatura, charset_normalizer
from minirag.tokenizer import encoding
encoding()
from sources.index import get_index
get_index()
baseline = status_mb("VmRSS")
with tenant_context(tenant):
    bot = bot_create(name="memory probe")
    started = time.perf_counter()
    with open(path, "rb") as handle:
        source = services.source_create_upload(bot_profile_id=bot.pk, file=File(handle, name=os.path.basename(path)))
    elapsed = time.perf_counter() - started
    source = Source.objects.get(pk=source.pk)
peak = status_mb("VmHWM")
print(json.dumps({"status": source.status, "error": source.error_message, "chunks": source.chunk_count,
                  "seconds": elapsed, "baseline_mb": baseline, "peak_mb": peak}))
"""


def _make_pdf(path: Path, pages: int) -> None:
    from fpdf import FPDF

    rng = random.Random(3)
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for _ in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 5, _document(rng, 3000))
    pdf.output(str(path))


def memory(args, env: dict[str, str]) -> dict:
    results = {}
    tenant = _bootstrap_tenant()
    try:
        with tempfile.TemporaryDirectory(prefix="minirag-bench-") as folder:
            text_path = Path(folder) / "large.txt"
            rng = random.Random(5)
            with text_path.open("w") as handle:
                written = 0
                while written < 50 * 1024 * 1024:
                    block = _document(rng, 1024 * 1024)
                    handle.write(block)
                    written += len(block)
            pdf_path = Path(folder) / "report.pdf"
            _make_pdf(pdf_path, 300)
            for label, path in (("text_50mb", text_path), ("pdf_300_pages", pdf_path)):
                output = subprocess.run(
                    [sys.executable, "-c", PROBE, str(ROOT), tenant.slug, str(path)],
                    env=env, capture_output=True, text=True, check=False,
                )  # fmt: skip
                if output.returncode != 0:
                    raise SystemExit(f"memory probe {label} failed:\n{output.stderr[-3000:]}")
                result = json.loads(output.stdout.strip().splitlines()[-1])
                result["file_mb"] = round(path.stat().st_size / 1e6, 1)
                results[label] = result
    finally:
        _drop_tenant(tenant)
    return results


def _report_throughput(args) -> None:
    print(f"ingest bench: {args.docs} docs × {args.doc_kb} KB, embed delay {args.embed_delay}s/call", flush=True)
    result = throughput(args)
    mb = result["megabytes"]
    sparse, dense, bare = result["sparse"], result["dense"], result["bare_embedder"]
    overhead = (dense["seconds"] - bare["seconds"]) / dense["seconds"]
    print(f"corpus: {mb} MB")
    print(
        f"sparse only : {sparse['seconds']:.1f} s, {sparse['chunks']} chunks, "
        f"{sparse['chunks'] / sparse['seconds']:.0f} chunks/s, {mb / sparse['seconds']:.2f} MB/s"
    )
    print(
        f"dense+sparse: {dense['seconds']:.1f} s, {dense['chunks']} chunks, {dense['embedding_calls']} calls, "
        f"{dense['chunks'] / dense['seconds']:.0f} chunks/s, {mb / dense['seconds']:.2f} MB/s"
    )
    print(
        f"bare embedder: {bare['seconds']:.1f} s for {bare['calls']} calls "
        f"({dense['chunks'] / bare['seconds']:.0f} chunks/s)"
    )
    print(f"pipeline overhead with the embedder: {overhead * 100:.1f} % of total time (target ≤ 20 %)")
    print(f"pipeline time per chunk beyond the embedder: "
          f"{(dense['seconds'] - bare['seconds']) / dense['chunks'] * 1000:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--doc-kb", type=int, default=20)
    parser.add_argument("--embed-delay", type=float, default=0.3, help="seconds per embedding call (fake)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "")
    if database_url:
        _ensure_database(database_url)
        run(args, database_url)
        return
    from _pg import embedded_postgres_server

    with embedded_postgres_server("minirag_bench") as database:
        run(args, database.url)


def run(args, database_url: str) -> None:
    media_root = tempfile.mkdtemp(prefix="minirag-bench-media-")
    env = _environment(database_url, media_root)
    os.environ.update(env)
    try:
        _setup_django()
        if not args.skip_throughput:
            _report_throughput(args)
        if not args.skip_memory:
            for label, probe in memory(args, env).items():
                error = " — " + probe["error"] if probe["error"] else ""
                print(f"peak memory {label} ({probe['file_mb']} MB file): {probe['peak_mb']:.0f} MB RSS "
                      f"(idle worker {probe['baseline_mb']:.0f} MB), {probe['chunks']} chunks in "
                      f"{probe['seconds']:.1f} s, status {probe['status']}{error}")  # fmt: skip
        print(f"(this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB RSS)")
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
