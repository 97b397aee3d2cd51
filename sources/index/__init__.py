"""The knowledge index: one interface (sources.index.base), two implementations, chosen by settings.

from sources.index import get_index
get_index().search(bot_id=..., query=Query(terms=...), limit=5, score_threshold=None)
"""

from django.conf import settings

from sources.index.base import (
    Batch,
    ChunkEntry,
    DenseSpace,
    KnowledgeIndex,
    KnowledgeIndexError,
    Query,
    RetrievedChunk,
)

_instances: dict[str, KnowledgeIndex] = {}


def get_index() -> KnowledgeIndex:
    """The configured implementation (`settings.KNOWLEDGE_INDEX`; tests may override it per test)."""
    name = settings.KNOWLEDGE_INDEX
    index = _instances.get(name)
    if index is None:
        if name == "qdrant":
            from sources.index.qdrant import QdrantIndex  # imports qdrant_client: only when configured

            index = QdrantIndex()
        else:
            from sources.index.postgres import PostgresIndex

            index = PostgresIndex()
        _instances[name] = index
    return index


__all__ = [
    "Batch",
    "ChunkEntry",
    "DenseSpace",
    "KnowledgeIndex",
    "KnowledgeIndexError",
    "Query",
    "RetrievedChunk",
    "get_index",
]
