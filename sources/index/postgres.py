"""The PostgreSQL knowledge index: BM25 postings and pgvector embeddings in the tenant's own schema.

- Sparse leg: an inverted index (`sources_posting`: term, chunk, tf, chunk length, bot) read with an
  index-only scan; BM25 (k1, b) is scored at query time with the bot's own statistics (document frequencies
  counted from the postings, chunk count and average length summed over its documents), so one tenant's or
  bot's data never moves another's scores.
- Dense leg: `sources_chunkvector`, one HNSW index per embedding space; several models and dimensions coexist.
- Both legs, RRF fusion and the chunk rows come back in ONE SQL statement.
- Writes go into the caller's transaction (rows, postings and vectors commit together); deletes cascade from
  the chunk rows, so a retired version disappears in the transaction that retires it.

Slightly over ~400 lines on purpose: the SQL of both legs, the fusion and the statistics they read are parts of
one statement and are read together.
"""

import logging
import weakref
from collections.abc import Sequence

from django.db import DatabaseError, connection, transaction

from sources.index import schema
from sources.index.base import (
    Batch,
    DenseSpace,
    KnowledgeIndex,
    KnowledgeIndexError,
    Query,
    RetrievedChunk,
)

logger = logging.getLogger("minirag.index")

# Ranking knobs, read at query time (benchmarks set them on the module). Chosen on half of a labelled
# collection's queries and checked on the other half (docs/benchmarks.md, "Lexical retrieval").
BM25_K1 = 1.2
BM25_B = 0.75
# Hybrid fusion, weighted RRF: score = SPARSE_WEIGHT / (RRF_K + sparse rank) + DENSE_WEIGHT / (RRF_K + dense rank).
# Each leg keeps max(limit × CANDIDATE_FACTOR, MIN_CANDIDATES) candidates before fusion. Chosen by bench/hybrid.py
# on Cranfield's tuning half with all-MiniLM-L6-v2 (was 60, 1:1, ×4); held-out numbers in docs/models.md.
RRF_K = 30
SPARSE_WEIGHT = 1.0
DENSE_WEIGHT = 0.65
CANDIDATE_FACTOR = 8
MIN_CANDIDATES = 20
# Pseudo-relevance feedback (RM3-style) on the sparse leg: the FEEDBACK_POOL best chunks of a first BM25 pass
# are re-ranked with the query expanded by the FEEDBACK_TERMS terms that carry the most weight in its
# FEEDBACK_DOCS best chunks (each chunk weighted by its score), which get FEEDBACK_WEIGHT of the query's total
# weight. FEEDBACK_DOCS = 0 turns it off (one BM25 pass, as before).
FEEDBACK_DOCS = 5
FEEDBACK_TERMS = 20
FEEDBACK_WEIGHT = 0.7
FEEDBACK_POOL = 100
MAX_POSTING_VALUE = 32767  # smallint

NO_PGVECTOR = (
    "This database has no pgvector extension, so dense (embedding) retrieval is unavailable. Install pgvector "
    "in PostgreSQL (the embedded PostgreSQL of `make run` has it), or use a bot without an embedding model."
)

_tuned_connections: "weakref.WeakSet" = weakref.WeakSet()


def _vector_literal(values: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(value)) for value in values) + "]"


def _sparse_leg(query: Query, score_threshold: float | None, ctes: list[str], params: dict) -> str | None:
    """The sparse (BM25, with pseudo-relevance feedback when enabled) leg: adds its CTEs and parameters; None
    for a query without terms."""
    if not query.terms:
        return None
    params.update(k1=BM25_K1, b=BM25_B, sparse_weight=SPARSE_WEIGHT)
    if FEEDBACK_DOCS > 0 and FEEDBACK_TERMS > 0 and FEEDBACK_WEIGHT > 0:
        ctes.append(_SPARSE_FEEDBACK_CTES)
        params.update(
            pool=max(FEEDBACK_POOL, params["candidates"]),
            feedback_docs=FEEDBACK_DOCS,
            feedback_terms=FEEDBACK_TERMS,
            feedback_weight=FEEDBACK_WEIGHT,
        )
    else:
        ctes.append(_SPARSE_CTES)
    ctes.append(_SPARSE_RANKED_CTE)
    lexical_threshold = score_threshold if query.dense is None else None
    params["sparse_min"] = lexical_threshold if lexical_threshold is not None else float("-inf")
    return "SELECT chunk_id, score, rank, %(sparse_weight)s::float8 AS weight FROM sparse_ranked"


class PostgresIndex(KnowledgeIndex):
    name = "postgres"
    transactional = True

    # --- writes -------------------------------------------------------------------------------------------

    def prepare(self, space: DenseSpace | None) -> None:
        if space is None:
            return
        self._space_id(space, create=True)

    def _space_id(self, space: DenseSpace, *, create: bool) -> int | None:
        """The space's id; with `create`, also the vector table, the space row and its HNSW index.

        Creation is serialised per tenant schema by an advisory lock: concurrent workers starting a new space
        would otherwise race on CREATE TABLE/INDEX IF NOT EXISTS (not race-safe in PostgreSQL). Once the space
        and its index exist, this is two cheap reads and takes no lock."""
        try:
            with connection.cursor() as cursor:
                if not schema.vector_table_exists(cursor):
                    if not create:
                        return None
                else:
                    space_id = self._lookup_space(cursor, space)
                    if space_id is not None and (not create or schema.hnsw_index_ready(cursor, space_id, space)):
                        return space_id
                    if not create:
                        return space_id
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':minirag-index-ddl'))")
                if not schema.ensure_vector_table(cursor):
                    raise KnowledgeIndexError(NO_PGVECTOR)
                cursor.execute(
                    "INSERT INTO sources_embeddingspace (model, dimension, created_at) VALUES (%s, %s, now()) "
                    "ON CONFLICT (model, dimension) DO NOTHING",
                    [space.model, space.dimension],
                )
                space_id = self._lookup_space(cursor, space)
                schema.ensure_hnsw_index(cursor, space_id=space_id, dimension=space.dimension)
                return space_id
        except DatabaseError as error:
            raise KnowledgeIndexError(f"The knowledge index is unavailable ({type(error).__name__})") from error

    @staticmethod
    def _lookup_space(cursor, space: DenseSpace) -> int | None:
        cursor.execute(
            "SELECT id FROM sources_embeddingspace WHERE model = %s AND dimension = %s", [space.model, space.dimension]
        )
        row = cursor.fetchone()
        return row[0] if row else None

    def write(self, batch: Batch) -> None:
        if not batch.entries:
            return
        space_id = None
        if batch.space is not None and any(entry.dense is not None for entry in batch.entries):
            space_id = self._space_id(batch.space, create=False)
            if space_id is None:
                raise KnowledgeIndexError("The embedding space was not prepared before writing")
        try:
            with connection.cursor() as cursor:
                raw = cursor.cursor
                with raw.copy("COPY sources_posting (chunk_id, term, bot_profile_id, tf, length) FROM STDIN") as copy:
                    for entry in batch.entries:
                        length = min(entry.length, MAX_POSTING_VALUE)
                        for term, tf in entry.terms.items():
                            copy.write_row((entry.chunk_id, term, batch.bot_id, min(tf, MAX_POSTING_VALUE), length))
                if space_id is not None:
                    with raw.copy(
                        "COPY sources_chunkvector (chunk_id, bot_profile_id, space_id, embedding) FROM STDIN"
                    ) as copy:
                        for entry in batch.entries:
                            if entry.dense is not None:
                                copy.write_row((entry.chunk_id, batch.bot_id, space_id, _vector_literal(entry.dense)))
                cursor.execute(
                    "UPDATE sources_document SET indexed_chunks = indexed_chunks + %s, "
                    "lexical_terms = lexical_terms + %s WHERE id = %s",
                    [len(batch.entries), sum(entry.length for entry in batch.entries), batch.document_id],
                )
        except DatabaseError as error:
            raise KnowledgeIndexError(f"The knowledge index could not be written ({type(error).__name__})") from error

    def retire_documents(self, *, source_id: str, document_ids: Sequence[str], versions: Sequence[str]) -> None:
        """Nothing to do here: deleting the documents deletes their chunks, and the database cascades."""

    def retire_sources(self, *, source_ids: Sequence[str]) -> bool:
        return True  # as above: the caller deletes the sources' documents in the same transaction

    def clear(self, *, bot_id: str | None = None, source_ids: Sequence[str] | None = None) -> None:
        conditions, params = [], []
        if bot_id:
            conditions.append("s.bot_profile_id = %s")
            params.append(bot_id)
        if source_ids is not None:
            conditions.append("s.id = ANY(%s::uuid[])")
            params.append([str(source_id) for source_id in source_ids])
        scope = " AND ".join(conditions) or "TRUE"
        chunks = f"SELECT c.id FROM sources_chunk c JOIN sources_source s ON s.id = c.source_id WHERE {scope}"
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM sources_posting WHERE chunk_id IN ({chunks})", params)
            if schema.vector_table_exists(cursor):
                cursor.execute(f"DELETE FROM sources_chunkvector WHERE chunk_id IN ({chunks})", params)
            cursor.execute(
                "UPDATE sources_document d SET indexed_chunks = 0, lexical_terms = 0 FROM sources_source s "
                f"WHERE s.id = d.source_id AND {scope}",
                params,
            )

    def stored_vectors(self, *, chunks: Sequence[tuple[str, str]], model: str) -> dict[str, list[float]]:
        if not chunks:
            return {}
        with connection.cursor() as cursor:
            if not schema.vector_table_exists(cursor):
                return {}
            cursor.execute(
                "SELECT v.chunk_id, v.embedding::text FROM sources_chunkvector v "
                "JOIN sources_embeddingspace e ON e.id = v.space_id "
                "WHERE e.model = %s AND v.chunk_id = ANY(%s::uuid[])",
                [model, [chunk_id for chunk_id, _ in chunks]],
            )
            return {str(chunk_id): [float(x) for x in text.strip("[]").split(",")] for chunk_id, text in cursor}

    # --- reads --------------------------------------------------------------------------------------------

    def _tune_connection(self) -> None:
        """Per connection, once: let HNSW scans continue past filtered-out rows (other bots of the tenant)."""
        connection.ensure_connection()
        raw = connection.connection
        if raw in _tuned_connections:
            return
        with connection.cursor() as cursor:
            cursor.execute("SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 100")
        _tuned_connections.add(raw)

    def search(self, *, bot_id: str, query: Query, limit: int, score_threshold: float | None) -> list[RetrievedChunk]:
        candidates = max(limit * CANDIDATE_FACTOR, MIN_CANDIDATES)
        params: dict = {"bot": bot_id, "terms": list(query.terms), "candidates": candidates, "limit": limit}
        ctes: list[str] = []
        sparse = _sparse_leg(query, score_threshold, ctes, params)
        dense = self._dense_leg(query, score_threshold, ctes, params)
        legs = [leg for leg in (sparse, dense) if leg]
        if not legs:
            return []
        if len(legs) == 1:
            fused = legs[0]
        else:
            params["rrf_k"] = RRF_K
            fused = (
                "SELECT chunk_id, SUM(weight / (%(rrf_k)s::float8 + rank)) AS score, 0 AS rank "
                f"FROM ({' UNION ALL '.join(legs)}) AS legs GROUP BY chunk_id"
            )
        sql = (
            "WITH " + ", ".join(ctes) + f", fused AS ({fused}) "
            'SELECT c.point_id, c.source_id, s.name, c.document_id, c.content, c.page, c."order", c.section, f.score '
            "FROM fused f JOIN sources_chunk c ON c.id = f.chunk_id JOIN sources_source s ON s.id = c.source_id "
            "WHERE s.is_active AND c.document_id = s.current_document_id "
            "ORDER BY f.score DESC, c.point_id LIMIT %(limit)s"
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
        except DatabaseError as error:
            raise KnowledgeIndexError(f"The knowledge index is unavailable ({type(error).__name__})") from error
        return [
            RetrievedChunk(
                chunk_id=str(point_id),
                source_id=str(source_id),
                source_name=name,
                document_id=str(document_id),
                content=content,
                score=float(score),
                page=page,
                chunk_index=order,
                section=section,
            )
            for point_id, source_id, name, document_id, content, page, order, section, score in rows
        ]

    def _dense_leg(self, query: Query, score_threshold: float | None, ctes: list[str], params: dict) -> str | None:
        """The dense (pgvector) leg: adds its CTEs and parameters; None without a query vector or when nothing
        was ever embedded in the query's space."""
        if query.dense is None or query.space is None:
            return None
        space_id = self._space_id(query.space, create=False)
        if space_id is None:
            return None
        try:
            self._tune_connection()
        except DatabaseError as error:
            raise KnowledgeIndexError(f"The knowledge index is unavailable ({type(error).__name__})") from error
        cast, _ = schema.vector_cast(query.space.dimension)
        ctes.append(_DENSE_CTES.format(cast=cast, space_id=int(space_id)))
        params["vector"] = _vector_literal(query.dense)
        params["dense_min"] = score_threshold if score_threshold is not None else -2.0
        params["dense_weight"] = DENSE_WEIGHT
        return "SELECT chunk_id, similarity AS score, rank, %(dense_weight)s::float8 AS weight FROM dense_ranked"

    def count_entries(self, *, source_ids: Sequence[str] | None = None, dense: bool = False) -> int:
        with connection.cursor() as cursor:
            if dense and not schema.vector_table_exists(cursor):
                return 0
            table = "sources_chunkvector" if dense else "sources_posting"
            sql = f"SELECT count(DISTINCT e.chunk_id) FROM {table} e"
            params: list = []
            if source_ids is not None:
                sql += " JOIN sources_chunk c ON c.id = e.chunk_id WHERE c.source_id = ANY(%s::uuid[])"
                params.append([str(source_id) for source_id in source_ids])
            cursor.execute(sql, params)
            return int(cursor.fetchone()[0])


# BM25 over the bot's postings, in one pass. Per query term (a handful of rows): its document frequency, counted
# from the postings index alone, and its IDF, with the per-query constants folded in, so the per-posting work
# is one float expression; N and the average length are sums over the bot's documents.
_STATS_AND_QUERY_TERMS = """
stats AS (
    SELECT GREATEST(COALESCE(SUM(d.indexed_chunks), 0), 1)::float8 AS n,
           GREATEST(COALESCE(SUM(d.lexical_terms)::float8 / NULLIF(SUM(d.indexed_chunks), 0), 1), 1) AS avgdl
    FROM sources_document d JOIN sources_source s ON s.id = d.source_id
    WHERE s.bot_profile_id = %(bot)s
),
query_terms AS MATERIALIZED (  -- computed once: inlined, the planner may re-count per posting
    SELECT t.term,
           ln(1 + (st.n - f.df + 0.5) / (f.df + 0.5)) * (%(k1)s::float8 + 1) AS weight,
           %(k1)s::float8 * (1 - %(b)s::float8) AS norm_base,
           %(k1)s::float8 * %(b)s::float8 / st.avgdl AS norm_per_term
    FROM unnest(%(terms)s::int[]) AS t(term)
    CROSS JOIN stats st
    CROSS JOIN LATERAL (
        SELECT count(*)::float8 AS df FROM sources_posting p WHERE p.bot_profile_id = %(bot)s AND p.term = t.term
    ) f
    WHERE f.df > 0
)"""

_SPARSE_CTES = (
    _STATS_AND_QUERY_TERMS
    + """,
sparse AS (
    SELECT p.chunk_id,
           SUM(q.weight * p.tf / (p.tf + q.norm_base + q.norm_per_term * p.length)) AS score
    FROM query_terms q
    JOIN sources_posting p ON p.bot_profile_id = %(bot)s AND p.term = q.term
    GROUP BY p.chunk_id
    ORDER BY score DESC LIMIT %(candidates)s
)"""
)

# The same first pass, kept to the FEEDBACK_POOL best chunks, then pseudo-relevance feedback. The pool's
# postings are read once, through the chunk index (a few hundred rows per chunk, whatever the corpus size). The
# relevance model of the FEEDBACK_DOCS best chunks (each term's share of a chunk, tf / length, weighted by the
# chunk's score) picks the expansion terms. Their IDF is taken within the pool — what separates the pool's
# chunks from each other is all a re-ranking of the pool needs, and no posting list is read end to end. The
# pool is re-scored with (1 − w) × first-pass score + the expansion terms' BM25, their weights summing to
# w × the number of query terms.
_SPARSE_FEEDBACK_CTES = (
    _STATS_AND_QUERY_TERMS
    + """,
first_pass AS MATERIALIZED (
    SELECT p.chunk_id,
           SUM(q.weight * p.tf / (p.tf + q.norm_base + q.norm_per_term * p.length)) AS score
    FROM query_terms q
    JOIN sources_posting p ON p.bot_profile_id = %(bot)s AND p.term = q.term
    GROUP BY p.chunk_id
    ORDER BY score DESC, p.chunk_id LIMIT %(pool)s
),
pool_postings AS MATERIALIZED (
    SELECT p.chunk_id, p.term, p.tf, p.length
    FROM first_pass fp JOIN sources_posting p ON p.chunk_id = fp.chunk_id
),
feedback_terms AS MATERIALIZED (
    SELECT pp.term, SUM(f.score * pp.tf / GREATEST(pp.length, 1)) AS mass
    FROM (SELECT chunk_id, score FROM first_pass ORDER BY score DESC, chunk_id LIMIT %(feedback_docs)s) f
    JOIN pool_postings pp ON pp.chunk_id = f.chunk_id
    GROUP BY pp.term
    ORDER BY mass DESC, pp.term LIMIT %(feedback_terms)s
),
expansion AS MATERIALIZED (
    SELECT f.term,
           %(feedback_weight)s::float8 * (SELECT count(*) FROM query_terms) * f.mass / SUM(f.mass) OVER ()
               * ln(1 + (ps.size - d.df + 0.5) / (d.df + 0.5)) * (%(k1)s::float8 + 1) AS weight,
           %(k1)s::float8 * (1 - %(b)s::float8) AS norm_base,
           %(k1)s::float8 * %(b)s::float8 / st.avgdl AS norm_per_term
    FROM feedback_terms f
    JOIN (SELECT pp.term, count(*)::float8 AS df FROM pool_postings pp
          WHERE pp.term IN (SELECT term FROM feedback_terms) GROUP BY pp.term) d ON d.term = f.term
    CROSS JOIN (SELECT count(*)::float8 AS size FROM first_pass) ps
    CROSS JOIN stats st
),
expansion_scores AS (
    SELECT pp.chunk_id, SUM(e.weight * pp.tf / (pp.tf + e.norm_base + e.norm_per_term * pp.length)) AS score
    FROM pool_postings pp JOIN expansion e ON e.term = pp.term
    GROUP BY pp.chunk_id
),
sparse AS (
    SELECT fp.chunk_id, (1 - %(feedback_weight)s::float8) * fp.score + COALESCE(es.score, 0) AS score
    FROM first_pass fp LEFT JOIN expansion_scores es ON es.chunk_id = fp.chunk_id
    ORDER BY score DESC, fp.chunk_id LIMIT %(candidates)s
)"""
)

_SPARSE_RANKED_CTE = """
sparse_ranked AS (
    SELECT chunk_id, score, row_number() OVER (ORDER BY score DESC, chunk_id) AS rank
    FROM sparse WHERE score >= %(sparse_min)s
)"""

_DENSE_CTES = """
dense AS (
    SELECT v.chunk_id, 1 - (v.embedding::{cast} <=> %(vector)s::{cast}) AS similarity
    FROM sources_chunkvector v
    WHERE v.space_id = {space_id} AND v.bot_profile_id = %(bot)s
    ORDER BY v.embedding::{cast} <=> %(vector)s::{cast}
    LIMIT %(candidates)s
),
dense_ranked AS (
    SELECT chunk_id, similarity, row_number() OVER (ORDER BY similarity DESC, chunk_id) AS rank
    FROM dense WHERE similarity >= %(dense_min)s
)"""
