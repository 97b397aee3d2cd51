"""The knowledge-index interface. Ingestion, retrieval and the services speak only this.

Two implementations, chosen by `settings.KNOWLEDGE_INDEX`:
- `postgres` (sources.index.postgres): BM25 postings and pgvector embeddings in the tenant's own schema,
  written in the same transaction as the chunk rows and removed with them.
- `qdrant` (sources.index.qdrant): vectors in the Qdrant server (`QDRANT_URL`), the scale path.

Every call runs in the current tenant's schema (the connection's tenant); nothing takes a tenant argument.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


class KnowledgeIndexError(Exception):
    """The index could not be reached or refused an operation (the message is safe to show a user)."""


@dataclass(frozen=True)
class DenseSpace:
    """An embedding space: vectors of one model and dimension are comparable with each other only."""

    model: str
    dimension: int


@dataclass(frozen=True)
class ChunkEntry:
    """One chunk row (already inserted in this transaction) and what the index stores for it."""

    chunk_id: str  # Chunk.id
    point_id: str  # Chunk.point_id, the public chunk id
    order: int
    terms: dict[int, int]  # term id → occurrences
    length: int  # number of lexical terms
    dense: list[float] | None = None


@dataclass(frozen=True)
class Batch:
    """A batch of one document version's chunks, written together."""

    bot_id: str
    source_id: str
    document_id: str
    version: str
    entries: list[ChunkEntry]
    space: DenseSpace | None = None


@dataclass(frozen=True)
class Query:
    terms: list[int]
    dense: list[float] | None = None
    space: DenseSpace | None = None
    # The bot's embedding model when the query could not be embedded (provider down): lexical search in
    # whatever space that model's vectors live in.
    fallback_model: str | None = None


@dataclass(frozen=True)
class RetrievedChunk:
    chunk_id: str
    source_id: str
    source_name: str
    document_id: str
    content: str
    score: float
    page: int | None
    chunk_index: int
    section: str = ""


class KnowledgeIndex(ABC):
    name: str
    # True when entries are written and removed in the caller's database transaction (no purge step needed).
    transactional: bool

    @abstractmethod
    def prepare(self, space: DenseSpace | None) -> None:
        """Make sure the space can be written (collection, vector table, HNSW index). Call OUTSIDE the batch
        transaction: creating an index there would hold a lock other workers' writes wait for."""

    @abstractmethod
    def write(self, batch: Batch) -> None:
        """Index a batch whose chunk rows were just inserted in the caller's open transaction.

        PostgreSQL: same transaction, so rows and index entries commit (or roll back) together."""

    @abstractmethod
    def retire_documents(self, *, source_id: str, document_ids: Sequence[str], versions: Sequence[str]) -> None:
        """Remove the index entries of these document versions; call inside the transaction that deletes
        their Document rows (PostgreSQL removes them in it; Qdrant after it commits)."""

    @abstractmethod
    def retire_sources(self, *, source_ids: Sequence[str]) -> bool:
        """Remove every index entry of these sources (deleted or deactivated); call inside the transaction
        that deletes their documents. False when the removal could not be done now (retried later)."""

    @abstractmethod
    def search(self, *, bot_id: str, query: Query, limit: int, score_threshold: float | None) -> list[RetrievedChunk]:
        """The `limit` best chunks of the bot's ACTIVE sources' current versions, best first.

        Hybrid (dense + BM25 fused with RRF) when `query.dense` is given, BM25 alone otherwise. The threshold
        applies to the dense cosine similarity in hybrid mode and to the BM25 score in lexical mode."""

    @abstractmethod
    def count_entries(self, *, source_ids: Sequence[str] | None = None, dense: bool = False) -> int:
        """How many chunks have index entries (lexical, or dense when `dense`), for tests and diagnostics."""

    @abstractmethod
    def clear(self, *, bot_id: str | None = None, source_ids: Sequence[str] | None = None) -> None:
        """Drop the index entries (not the chunk rows) of these sources, of the bot, or of the whole tenant,
        before a rebuild."""

    @abstractmethod
    def stored_vectors(self, *, chunks: Sequence[tuple[str, str]], model: str) -> dict[str, list[float]]:
        """The dense vectors of `model` this index holds for (chunk_id, point_id) pairs, by chunk_id (a rebuild
        reuses them instead of paying the provider again)."""
