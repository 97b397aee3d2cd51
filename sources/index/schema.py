"""DDL of the PostgreSQL knowledge index, in the current (tenant) schema.

Postings and vectors reference their chunk with ON DELETE CASCADE, so whatever deletes chunk rows (a
superseded version, a deleted or deactivated source, a deleted bot) removes their index entries in the same
transaction: there are no orphans by construction. The `vector` extension lives in the public schema (every
tenant's search_path includes it); without it the vector table is not created and only the sparse leg works.
"""

import logging

logger = logging.getLogger("minirag.index")

# pgvector's HNSW indexes take at most 2,000 dimensions for `vector` and 4,000 for `halfvec`.
HNSW_MAX_VECTOR_DIMENSIONS = 2000
HNSW_MAX_HALFVEC_DIMENSIONS = 4000

POSTINGS_DDL = """
CREATE TABLE IF NOT EXISTS sources_posting (
    chunk_id uuid NOT NULL REFERENCES sources_chunk (id) ON DELETE CASCADE,
    term integer NOT NULL,
    bot_profile_id uuid NOT NULL,
    tf smallint NOT NULL,
    length smallint NOT NULL
);
-- The search path: every posting of a bot's query terms, read from the index alone (index-only scan).
CREATE INDEX IF NOT EXISTS sources_posting_search
    ON sources_posting (bot_profile_id, term) INCLUDE (chunk_id, tf, length);
-- For the cascade from deleted chunks. Not a (chunk, term) key: a chunk's ~200 postings share one entry of
-- this deduplicated B-tree, a few bytes each instead of ~30 (each chunk's terms are written once, distinct).
CREATE INDEX IF NOT EXISTS sources_posting_chunk ON sources_posting (chunk_id);
"""

VECTORS_DDL = """
CREATE TABLE IF NOT EXISTS sources_chunkvector (
    chunk_id uuid PRIMARY KEY REFERENCES sources_chunk (id) ON DELETE CASCADE,
    bot_profile_id uuid NOT NULL,
    space_id smallint NOT NULL REFERENCES sources_embeddingspace (id) ON DELETE CASCADE,
    embedding vector NOT NULL
);
"""


def vector_extension_available(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    return cursor.fetchone() is not None


def vector_extension_installed(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
    return cursor.fetchone() is not None


def vector_table_exists(cursor) -> bool:
    cursor.execute("SELECT to_regclass('sources_chunkvector') IS NOT NULL")
    return bool(cursor.fetchone()[0])


def ensure_vector_table(cursor) -> bool:
    """Create the extension (in public) and this schema's vector table when possible. True when it exists."""
    if vector_table_exists(cursor):
        return True
    if not vector_extension_installed(cursor):
        if not vector_extension_available(cursor):
            return False
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    cursor.execute(VECTORS_DDL)
    return True


def hnsw_index_name(space_id: int) -> str:
    return f"sources_chunkvector_hnsw_{space_id}"


def vector_cast(dimension: int) -> tuple[str, str]:
    """(cast type, operator class) for a space: halfvec above 2,000 dimensions (HNSW's limit for vector)."""
    if dimension <= HNSW_MAX_VECTOR_DIMENSIONS:
        return f"vector({dimension})", "vector_cosine_ops"
    return f"halfvec({dimension})", "halfvec_cosine_ops"


def hnsw_index_ready(cursor, space_id: int, space) -> bool:
    """True when the space needs no index (too many dimensions) or its index exists."""
    if space.dimension > HNSW_MAX_HALFVEC_DIMENSIONS:
        return True
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [hnsw_index_name(space_id)])
    return bool(cursor.fetchone()[0])


def ensure_hnsw_index(cursor, *, space_id: int, dimension: int) -> None:
    """One HNSW index per embedding space: partial (this space's rows) on the vector cast to its dimension."""
    if dimension > HNSW_MAX_HALFVEC_DIMENSIONS:
        logger.warning("embedding space %s has %d dimensions: no HNSW index (exact search)", space_id, dimension)
        return
    cast, opclass = vector_cast(dimension)
    cursor.execute(
        f"CREATE INDEX IF NOT EXISTS {hnsw_index_name(space_id)} ON sources_chunkvector "
        f"USING hnsw ((embedding::{cast}) {opclass}) WITH (m = 16, ef_construction = 64) "
        f"WHERE space_id = {int(space_id)}"
    )


def create_index_tables(*, cursor, **_) -> None:
    """The index tables of a new tenant schema (receiver of tenants.signals.tenant_schema_created)."""
    cursor.execute(POSTINGS_DDL)
    cursor.execute("SAVEPOINT minirag_vector")
    try:
        ensure_vector_table(cursor)
    except Exception as error:  # noqa: BLE001 - no pgvector (or no right to install it): sparse-only
        cursor.execute("ROLLBACK TO SAVEPOINT minirag_vector")
        logger.warning("no vector table for the new schema (%s); the index is sparse-only", error)
    else:
        cursor.execute("RELEASE SAVEPOINT minirag_vector")


# --- migration entry points -----------------------------------------------------------------------------


def create_postings_table(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(POSTINGS_DDL)


def create_vector_table_if_possible(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        try:
            cursor.execute("SAVEPOINT minirag_vector")
            created = ensure_vector_table(cursor)
            cursor.execute("RELEASE SAVEPOINT minirag_vector")
        except Exception as error:  # noqa: BLE001 - e.g. no right to create extensions: sparse-only until then
            cursor.execute("ROLLBACK TO SAVEPOINT minirag_vector")
            logger.warning("pgvector unavailable (%s); dense retrieval is off until it is installed", error)
            created = False
    if not created:
        logger.warning("database has no pgvector extension: the knowledge index is sparse-only (BM25)")


def drop_index_tables(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sources_chunkvector; DROP TABLE IF EXISTS sources_posting")
