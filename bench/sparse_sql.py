"""The sparse (BM25) search statement of the PostgreSQL index against rewrites of it, side by side, same data.

    .venv/bin/python bench/sparse_sql.py [--chunks 100000] [--samples 50] [--rounds 3]

Builds one tenant with N synthetic chunks (bench/_corpus.py, COPY) in its own embedded PostgreSQL, then runs
each question through `PostgresIndex.search` (the shipped statement, sparse leg only) and through rewrites
of the same BM25 formula, alternating per question so machine noise hits every variant alike. Prints p50/p95
per variant, whether each returns the same top chunks as the shipped statement, and EXPLAIN ANALYZE of each.

Variants (BM25 and the per-bot statistics are identical; only the plan differs):
- shipped: sources/index/postgres.py as committed.
- idf-per-term: the IDF and the per-query constants computed once per term in the df CTE (not per posting
  row), and the parameters cast to float8 (no NUMERIC arithmetic per row); still a MATERIALIZED hits CTE.
- single-pass: df from index-only counts per query term (no materialised hits, no join back), then one pass
  over the postings joined to the ≤ 10-row IDF table.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time

from _pg import FAST_LOAD, embedded_postgres_server
from _setup import configure, percentile

STATS = """
stats AS (
    SELECT GREATEST(COALESCE(SUM(d.indexed_chunks), 0), 1)::float8 AS n,
           GREATEST(COALESCE(SUM(d.lexical_terms)::float8 / NULLIF(SUM(d.indexed_chunks), 0), 1), 1) AS avgdl
    FROM sources_document d JOIN sources_source s ON s.id = d.source_id
    WHERE s.bot_profile_id = %(bot)s
)"""

TAIL = """
SELECT c.point_id, sp.score
FROM sparse sp JOIN sources_chunk c ON c.id = sp.chunk_id JOIN sources_source s ON s.id = c.source_id
WHERE s.is_active AND c.document_id = s.current_document_id
ORDER BY sp.score DESC, c.point_id LIMIT %(limit)s"""

IDF_PER_TERM = (
    "WITH"
    + STATS
    + """,
hits AS MATERIALIZED (
    SELECT p.term, p.chunk_id, p.tf, p.length FROM sources_posting p
    WHERE p.bot_profile_id = %(bot)s AND p.term = ANY(%(terms)s::int[])
),
idf AS (
    SELECT h.term,
           ln(1 + (st.n - count(*) + 0.5::float8) / (count(*) + 0.5::float8)) * (%(k1)s::float8 + 1) AS w,
           %(k1)s::float8 * (1 - %(b)s::float8) AS c0,
           %(k1)s::float8 * %(b)s::float8 / st.avgdl AS c1
    FROM hits h CROSS JOIN stats st GROUP BY h.term, st.n, st.avgdl
),
sparse AS (
    SELECT h.chunk_id, SUM(i.w * h.tf / (h.tf + i.c0 + i.c1 * h.length)) AS score
    FROM hits h JOIN idf i USING (term)
    GROUP BY h.chunk_id ORDER BY score DESC LIMIT %(candidates)s
)"""
    + TAIL
)

SINGLE_PASS = (
    "WITH"
    + STATS
    + """,
df AS MATERIALIZED (
    SELECT t.term, (SELECT count(*) FROM sources_posting p
                    WHERE p.bot_profile_id = %(bot)s AND p.term = t.term)::float8 AS df
    FROM unnest(%(terms)s::int[]) AS t(term)
),
idf AS MATERIALIZED (
    SELECT df.term, ln(1 + (st.n - df.df + 0.5) / (df.df + 0.5)) * (%(k1)s::float8 + 1) AS w,
           %(k1)s::float8 * (1 - %(b)s::float8) AS c0, %(k1)s::float8 * %(b)s::float8 / st.avgdl AS c1
    FROM df CROSS JOIN stats st WHERE df.df > 0
),
sparse AS (
    SELECT p.chunk_id, SUM(i.w * p.tf / (p.tf + i.c0 + i.c1 * p.length)) AS score
    FROM idf i JOIN sources_posting p ON p.bot_profile_id = %(bot)s AND p.term = i.term
    GROUP BY p.chunk_id ORDER BY score DESC LIMIT %(candidates)s
)"""
    + TAIL
)

VARIANTS = {"idf-per-term": IDF_PER_TERM, "single-pass": SINGLE_PASS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with embedded_postgres_server("minirag_bench_sparse", tuning=FAST_LOAD) as database:
        media = tempfile.mkdtemp(prefix="minirag-bench-media-")
        try:
            return run(args, database, media)
        finally:
            shutil.rmtree(media, ignore_errors=True)


def run(args, database, media) -> int:
    configure(fresh=False, database_url=database.url, MEDIA_ROOT=media)
    from _corpus import Corpus, load
    from django.db import connection

    from bots.services import bot_create
    from minirag.tenancy import tenant_context
    from sources.index import Query
    from sources.index.postgres import BM25_B, BM25_K1, PostgresIndex
    from sources.pipeline import lexical
    from tenants.services import tenant_bootstrap

    corpus = Corpus(seed=1)
    questions = corpus.questions(args.samples, seed=5)
    tenant = tenant_bootstrap(
        name="sparse", slug="sparse", owner_email="o@sparse.example", owner_password="bench-password-long-enough"
    ).tenant
    index = PostgresIndex()
    timings: dict[str, list[float]] = {"shipped": [], **{name: [] for name in VARIANTS}}
    mismatches = dict.fromkeys(VARIANTS, 0)
    with tenant_context(tenant):
        bot = bot_create(name="sparse", model="extractive")
        stats = load(bot, args.chunks, corpus, seed=100)
        print(f"loaded {args.chunks:,} chunks, {stats['postings']:,} postings in {stats['seconds']:.0f}s", flush=True)
        limit = 5
        for round_number in range(args.rounds + 1):  # round 0 warms the cache
            for question in questions:
                terms = lexical.query_terms(question)
                started = time.perf_counter()
                shipped = index.search(bot_id=str(bot.pk), query=Query(terms=terms), limit=limit, score_threshold=None)
                elapsed = (time.perf_counter() - started) * 1000
                if round_number:
                    timings["shipped"].append(elapsed)
                params = {"bot": str(bot.pk), "terms": terms, "k1": BM25_K1, "b": BM25_B}
                params.update(candidates=max(limit * 4, 20), limit=limit)
                for name, sql in VARIANTS.items():
                    with connection.cursor() as cursor:
                        started = time.perf_counter()
                        cursor.execute(sql, params)
                        rows = cursor.fetchall()
                        elapsed = (time.perf_counter() - started) * 1000
                    if round_number:
                        timings[name].append(elapsed)
                        same = [str(r[0]) for r in rows] == [c.chunk_id for c in shipped]
                        close = all(
                            abs(r[1] - c.score) < 1e-9 * max(1, abs(c.score))
                            for r, c in zip(rows, shipped, strict=False)
                        )
                        mismatches[name] += not (same and close)
        print(f"\n{args.chunks:,} chunks, {len(questions)} questions × {args.rounds} rounds, alternating variants\n")
        print("| variant | p50 ms | p95 ms | mean ms | top-5 differs from shipped |")
        print("|---|---|---|---|---|")
        for name, values in timings.items():
            differs = "—" if name == "shipped" else f"{mismatches[name]} of {len(values)}"
            print(
                f"| {name} | {percentile(values, 50):.1f} | {percentile(values, 95):.1f} | "
                f"{statistics.mean(values):.1f} | {differs} |"
            )
        question = questions[1]
        terms = lexical.query_terms(question)
        params = {"bot": str(bot.pk), "terms": terms, "k1": BM25_K1, "b": BM25_B, "candidates": 20, "limit": 5}
        for name, sql in VARIANTS.items():
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                print(f"\n-- EXPLAIN ANALYZE, {name}: {question}")
                print("\n".join(row[0] for row in cursor.fetchall()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
