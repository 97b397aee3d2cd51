"""Chat: orchestration overhead without the LLM, time to first SSE event, and concurrent streams.

    .venv/bin/python bench/chat.py [--sizes 1000,10000,100000] [--samples 40] [--streams 50]

1. Overhead (in process, fake LLM answering instantly over real HTTP): p50/p95 of everything a chat turn does
   besides the model — bot and chat checks, history, storing the user message (`start`), retrieval
   (BM25 on the PostgreSQL knowledge index), prompt assembly, storing answer + usage + counters (`finish`) —
   at 1k, 10k and 100k chunks in the tenant. The fake LLM call (LiteLLM client + loopback HTTP) is shown
   apart. Chunks are 64 tokens here (CHUNK_SIZE_TOKENS=64) so that 100k chunks ingest in minutes through the
   real pipeline. (bench/chat_scale.py measures the same through HTTP with realistic 150–300-word chunks.)
2. Time to first SSE event (`event: sources`, i.e. retrieval done) at each size, through Django's handler.
3. N concurrent streams through the production server command (gunicorn gthread, 2 workers × 64 threads —
   what `make run` starts) against a fake LLM that streams ~40 pieces 20 ms apart:
   every stream must end with `done` (zero errors); TTFE p50/p95, wall time, peak concurrency, DB connections.
   Then one client disconnects mid-stream: the partial answer must be stored, marked incomplete.

Own database: an embedded PostgreSQL 18 + pgvector in a temporary directory (bench/_pg.py), deleted at the
end; or BENCH_DATABASE_URL when set (recreated).
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("CHUNK_SIZE_TOKENS", "64")
os.environ.setdefault("CHUNK_OVERLAP_TOKENS", "8")
os.environ["MINIRAG_ALLOW_PRIVATE_NETWORK"] = "true"  # the fake LLM listens on 127.0.0.1

from _pg import embedded_postgres_server
from _setup import configure, free_port, percentile, start_gunicorn

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "")  # set in main() when the embedded server is used

PASSWORD = "bench-password-long-enough"
SYLLABLES = "ka lo mi nu re sa ti vo pe da fi gu ha je ko lu ma ne pi ro su ta ve wi xo yu ze".split()
QUESTIONS = [
    "How does the harbour of Blipton handle winter storms?",
    "What do the purple lighthouses signal to fishermen?",
    "Which festival celebrates the smoked eel season?",
    "Who maintains the northern sea charts?",
    "When was the first rye bread bakery opened?",
]


def _vocabulary(size: int = 6000) -> list[str]:
    rng = random.Random(7)
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))))
    # Real words from the questions appear too, so queries have lexical matches at every size.
    topic = "harbour Blipton winter storms purple lighthouses signal fishermen festival smoked eel season "
    topic += "northern sea charts rye bread bakery opened maintains celebrates"
    return sorted(words) + topic.split() * 20


def _document(rng: random.Random, vocabulary: list[str], words: int) -> str:
    sentences = []
    remaining = words
    while remaining > 0:
        length = min(remaining, rng.randint(8, 18))
        sentence = " ".join(rng.choice(vocabulary) for _ in range(length))
        sentences.append(sentence.capitalize() + ".")
        remaining -= length
    return " ".join(sentences)


def grow_corpus(tenant, bot, target_chunks: int, rng: random.Random, vocabulary: list[str]) -> tuple[int, float]:
    """Ingest text sources (through the real pipeline) until the bot has >= target chunks.

    Returns (chunks, seconds)."""
    from django.db.models import Sum

    from minirag.tenancy import tenant_context
    from sources.models import Source
    from sources.services import source_create, source_run_ingestion

    started = time.perf_counter()
    with tenant_context(tenant):
        while True:
            have = Source.objects.filter(bot_profile=bot).aggregate(n=Sum("chunk_count"))["n"] or 0
            if have >= target_chunks:
                return have, time.perf_counter() - started
            words = min(40_000, max(300, (target_chunks - have) * 15))  # ~15 words per 64-token chunk
            index = Source.objects.count()
            source = source_create(
                bot_profile_id=bot.id,
                name=f"Chronicle {index}",
                source_type="text",
                content=_document(rng, vocabulary, words),
            )
            outcome = source_run_ingestion(source_id=str(source.id))
            assert outcome.status == "ready", outcome
            print(f"    … {have + outcome.chunk_count} chunks ({time.perf_counter() - started:.0f}s)", flush=True)


def measure_overhead(tenant, bot, samples: int) -> dict[str, list[float]]:
    """Time each step of a JSON chat turn through the services, in the tenant (LLM = instant fake)."""
    from chat import answering, services
    from minirag.integrations import llm
    from minirag.tenancy import tenant_context

    steps: dict[str, list[float]] = {k: [] for k in ("start", "retrieve", "prompt", "llm", "finish", "overhead")}
    with tenant_context(tenant):
        for index in range(samples + 3):
            question = QUESTIONS[index % len(QUESTIONS)]
            t0 = time.perf_counter()
            turn = services.chat_turn_start(tenant=tenant, bot_id=bot.id, message=question)
            t1 = time.perf_counter()
            plan = answering.answer_plan(bot=turn.bot, message=question, history=turn.history)
            chunks = plan.passages
            t2 = time.perf_counter()
            messages = answering.plan_messages(plan)
            config = answering.llm_config_for(turn.bot)
            t3 = time.perf_counter()
            completion = llm.complete(config=config, messages=messages)
            t4 = time.perf_counter()
            generated = answering.Generated(
                content=completion.content,
                model=completion.model,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                latency_ms=completion.latency_ms,
            )
            services.turn_finish(turn=turn, generated=generated, chunks=chunks, sources=answering.plan_sources(plan))
            t5 = time.perf_counter()
            assert chunks, "retrieval found nothing"
            if index < 3:
                continue  # warm-up
            for name, value in (
                ("start", t1 - t0),
                ("retrieve", t2 - t1),
                ("prompt", t3 - t2),
                ("llm", t4 - t3),
                ("finish", t5 - t4),
                ("overhead", (t5 - t0) - (t4 - t3)),
            ):
                steps[name].append(value * 1000)
    return steps


def measure_ttfe_in_process(token: str, bot_id: str, samples: int) -> list[float]:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    timings = []
    for index in range(samples + 2):
        body = {"bot_profile_id": bot_id, "message": QUESTIONS[index % len(QUESTIONS)], "stream": True}
        started = time.perf_counter()
        response = client.post("/v1/chat", json.dumps(body), content_type="application/json")
        iterator = iter(response.streaming_content)
        first = next(iterator)
        elapsed = (time.perf_counter() - started) * 1000
        assert first.startswith(b"event: sources"), first
        rest = b"".join(iterator)
        assert b"event: done" in rest, rest[-300:]
        if index >= 2:
            timings.append(elapsed)
    return timings


# --- Real server -----------------------------------------------------------------------------------------


def start_server(port: int):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DATABASE_URL,
        CELERY_TASK_ALWAYS_EAGER="true",
        DJANGO_SETTINGS_MODULE="minirag.settings",
        LOG_LEVEL="WARNING",
    )
    # What `make run` starts (minirag/gunicorn_conf.py): 2 processes × 64 threads.
    return start_gunicorn(port, workers=2, threads=64, env=env)


def _events(raw: str) -> list[str]:
    return [block.split("\n", 1)[0][7:] for block in raw.split("\n\n") if block.startswith("event: ")]


def one_stream(base: str, token: str, bot_id: str, question: str) -> dict:
    import httpx

    body = {"bot_profile_id": bot_id, "message": question, "stream": True}
    started = time.perf_counter()
    first = None
    chunks = []
    try:
        with httpx.stream(
            "POST",
            f"{base}/v1/chat",
            json=body,
            timeout=60,
            headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
        ) as response:
            if response.status_code != 200:
                return {"error": f"HTTP {response.status_code}", "started": started, "ended": time.perf_counter()}
            for chunk in response.iter_raw():
                if first is None:
                    first = time.perf_counter()
                chunks.append(chunk)
    except Exception as error:  # noqa: BLE001 - a bench counts every failure
        return {"error": repr(error), "started": started, "ended": time.perf_counter()}
    ended = time.perf_counter()
    names = _events(b"".join(chunks).decode())
    ok = names and names[0] == "sources" and names[-1] == "done" and set(names[1:-1]) <= {"delta"}
    return {
        "error": None if ok else f"bad event sequence {names[:3]}…{names[-2:]}",
        "ttfe": (first - started) * 1000 if first else None,
        "duration": (ended - started) * 1000,
        "started": started,
        "ended": ended,
        "deltas": names.count("delta"),
    }


def db_connections() -> int:
    import psycopg

    query = "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()"  # not this one
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


def concurrent_streams(base: str, token: str, bot_id: str, streams: int) -> dict:
    peak_connections = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_connections
        while not stop.is_set():
            peak_connections = max(peak_connections, db_connections())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        results = list(
            pool.map(lambda i: one_stream(base, token, bot_id, QUESTIONS[i % len(QUESTIONS)]), range(streams))
        )
    wall = time.perf_counter() - started
    stop.set()
    watcher.join()
    intervals = sorted([(r["started"], 1) for r in results] + [(r["ended"], -1) for r in results])
    in_flight = peak = 0
    for _, delta in intervals:
        in_flight += delta
        peak = max(peak, in_flight)
    ok = [r for r in results if r["error"] is None]
    return {
        "errors": [r["error"] for r in results if r["error"]],
        "ttfe": [r["ttfe"] for r in ok],
        "duration": [r["duration"] for r in ok],
        "wall": wall,
        "peak_in_flight": peak,
        "peak_db_connections": peak_connections,
        "deltas": statistics.mean(r["deltas"] for r in ok) if ok else 0,
    }


def disconnect_check(base: str, token: str, bot_id: str, tenant) -> str:
    """Read `sources` and a few deltas, drop the connection, then look for the stored incomplete answer."""
    from chat.models import Message
    from minirag.tenancy import tenant_context

    body = json.dumps({"bot_profile_id": bot_id, "message": "disconnect probe", "stream": True}).encode()
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST /v1/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n".encode()
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        received = b""
        while received.count(b"event: delta") < 3:
            data = sock.recv(4096)
            if not data or (received.startswith(b"HTTP/1.1") and b" 200 " not in received.split(b"\r\n", 1)[0]):
                return f"unexpected answer: {(received + data)[:120]!r}"
            received += data
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with tenant_context(tenant):
            answer = Message.objects.filter(chat__messages__content="disconnect probe", role="assistant").first()
        if answer is not None:
            return f"stored, is_complete={answer.is_complete}, {len(answer.content.split())} words kept"
        time.sleep(0.2)
    return "NOT STORED"


def real_server(token: str, tenant, fake, streams: int) -> tuple[dict, list[float], str]:
    import httpx

    from chat.tests.conftest import PARIS_TEXT

    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        # Knowledge ingested by the server through the API (tasks eager in the web process here).
        bot = httpx.post(
            f"{base}/v1/bot-profiles",
            headers=headers,
            timeout=30,
            json={
                "name": "Streaming bot",
                "model": "openai/fake-chat",
                "credentials": {"api_key": "test-key", "api_base": fake.base_url},
            },
        )
        assert bot.status_code == 201, bot.text
        bot_id = bot.json()["id"]
        rng, vocabulary = random.Random(3), _vocabulary()
        for index in range(2):
            content = PARIS_TEXT + " " + _document(rng, vocabulary, 1500)
            source = httpx.post(
                f"{base}/v1/sources",
                headers=headers,
                timeout=30,
                json={
                    "bot_profile_id": bot_id,
                    "name": f"Guide {index}",
                    "source_type": "text",
                    "content": content,
                },
            )
            assert source.status_code == 201, source.text
            ingest = httpx.post(f"{base}/v1/sources/{source.json()['id']}/ingest", headers=headers, timeout=300)
            assert ingest.status_code == 202, ingest.text
        # Time to first event through the real server, one stream at a time (instant LLM).
        fake.chunk_delay = 0.0
        sequential = [one_stream(base, token, bot_id, QUESTIONS[i % 5]) for i in range(22)][2:]
        assert all(r["error"] is None for r in sequential), [r["error"] for r in sequential]
        ttfe_single = [r["ttfe"] for r in sequential]
        # N concurrent streams, each ~40 pieces 20 ms apart (~1 s of streaming).
        fake.chunk_delay = 0.02
        fake.reply = " ".join(f"token{i}" for i in range(40))
        result = concurrent_streams(base, token, bot_id, streams)
        disconnect = disconnect_check(base, token, bot_id, tenant)
        fake.reply = None
        fake.chunk_delay = 0.0
        return result, ttfe_single, disconnect
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def fmt(values: list[float]) -> str:
    return f"{percentile(values, 50):.1f} / {percentile(values, 95):.1f}"


def main() -> int:
    global DATABASE_URL
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--streams", type=int, default=50)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    if DATABASE_URL:
        configure(fresh=True, database_url=DATABASE_URL)
        return run(args, sizes)
    with embedded_postgres_server("minirag_bench_chat") as database:
        DATABASE_URL = database.url
        configure(fresh=False, database_url=database.url)
        return run(args, sizes)


def run(args, sizes) -> int:
    from bots.services import bot_create
    from minirag.tenancy import tenant_context
    from minirag.tests.fake_openai import FakeOpenAI
    from tenants.services import tenant_bootstrap

    fake = FakeOpenAI().start()
    boot = tenant_bootstrap(
        name="Bench chat", slug="bench-chat", owner_email="o@bench-chat.example", owner_password=PASSWORD
    )
    tenant, token = boot.tenant, boot.api_token.raw_token
    with tenant_context(tenant):
        bot = bot_create(
            name="Bench bot", model="openai/fake-chat", credentials={"api_key": "test-key", "api_base": fake.base_url}
        )

    rows = []
    rng, vocabulary = random.Random(11), _vocabulary()
    for size in sizes:
        print(f"== {size} chunks: ingesting", flush=True)
        chunks, seconds = grow_corpus(tenant, bot, size, rng, vocabulary)
        samples = args.samples
        steps = measure_overhead(tenant, bot, samples)
        ttfe = measure_ttfe_in_process(token, str(bot.id), max(5, samples // 2))
        rows.append((chunks, seconds, steps, ttfe, samples))
        print(
            f"   overhead p50/p95 {fmt(steps['overhead'])} ms; retrieve {fmt(steps['retrieve'])} ms; "
            f"TTFE {fmt(ttfe)} ms",
            flush=True,
        )

    print(f"== real server: {args.streams} concurrent streams", flush=True)
    streams, ttfe_server, disconnect = real_server(token, tenant, fake, args.streams)
    fake.stop()

    print("\n### Overhead per chat turn without the LLM (ms, p50 / p95)\n")
    print(
        "| chunks in tenant | overhead | start (checks, history, user msg) | retrieval | prompt | "
        "finish (answer, usage, counters) | fake LLM call (excluded) | TTFE in process |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size, _seconds, steps, ttfe, samples in rows:
        print(
            f"| {size:,} ({samples} samples) | {fmt(steps['overhead'])} | {fmt(steps['start'])} | "
            f"{fmt(steps['retrieve'])} | {fmt(steps['prompt'])} | {fmt(steps['finish'])} | "
            f"{fmt(steps['llm'])} | {fmt(ttfe)} |"
        )
    print("\nIngestion to reach each size: " + ", ".join(f"{s:,}: {sec:.0f}s" for s, sec, *_ in rows))
    print("\n### Real server (gunicorn gthread 2×64)\n")
    print(
        f"- TTFE, one stream at a time: p50 {percentile(ttfe_server, 50):.1f} ms, "
        f"p95 {percentile(ttfe_server, 95):.1f} ms"
    )
    print(
        f"- {args.streams} concurrent streams: errors {len(streams['errors'])}, peak in flight "
        f"{streams['peak_in_flight']}, wall {streams['wall']:.2f}s, TTFE p50/p95 {fmt(streams['ttfe'])} ms, "
        f"stream duration p50/p95 {fmt(streams['duration'])} ms, {streams['deltas']:.0f} deltas each, "
        f"peak DB connections {streams['peak_db_connections']}"
    )
    print(f"- client disconnect mid-stream: {disconnect}")
    if streams["errors"]:
        print("errors:", streams["errors"][:5])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
