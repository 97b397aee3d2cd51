"""The Qdrant knowledge index (`QDRANT_URL`): vectors in the Qdrant server, chunk rows in PostgreSQL.

One collection per embedding space (`minirag_sparse` for sparse-only bots); points carry a lean payload
(tenant, bot, source, version) and the tenant filter is built in one place (vectorstore.tenant_filter).
Qdrant cannot join a database transaction, so removals run after the retiring transaction commits; a
removal that fails marks the sources `purge_pending` (excluded from retrieval) and a task retries it.
Every hit is checked against the database: only chunks of an active source's current version answer.

Lexical (BM25) scoring here, compared with the PostgreSQL index:
- length normalisation uses the bot's real average chunk length, taken when a batch is written (the documents'
  `indexed_chunks`/`lexical_terms` counters, kept by both backends): points written early in a bot's life keep
  the average of that moment;
- the IDF is Qdrant's `Modifier.IDF`, computed by the server over the whole collection — every tenant's and
  bot's points in it — not per tenant (Qdrant 1.19 can narrow it to a tenant with the `idf.corpus` query
  parameter; the pinned server and client, 1.15, cannot);
- no pseudo-relevance feedback; hybrid fusion is the same weighted RRF with the same knobs
  (sources.index.postgres: RRF_K, SPARSE_WEIGHT, DENSE_WEIGHT, CANDIDATE_FACTOR).
"""

import logging
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import F, Sum

from minirag.integrations import vectorstore
from sources.index import postgres as fusion
from sources.index.base import (
    Batch,
    DenseSpace,
    KnowledgeIndex,
    KnowledgeIndexError,
    Query,
    RetrievedChunk,
)
from sources.models import Chunk, Document, Source
from sources.pipeline import lexical

logger = logging.getLogger("minirag.index")


def _tenant_id() -> str:
    return str(connection.tenant.id)


def _collection(space: DenseSpace | None) -> str:
    if space is None:
        return vectorstore.SPARSE_COLLECTION
    return vectorstore.collection_name(embedding_model=space.model, dimension=space.dimension)


class QdrantIndex(KnowledgeIndex):
    name = "qdrant"
    transactional = False

    def prepare(self, space: DenseSpace | None) -> None:
        try:
            vectorstore.ensure_collection(_collection(space), dimension=space.dimension if space else None)
        except vectorstore.VectorStoreError as error:
            raise KnowledgeIndexError(str(error)) from error

    def write(self, batch: Batch) -> None:
        tenant_id = _tenant_id()
        if not batch.entries:
            return
        # The bot's statistics move in the caller's transaction, as the PostgreSQL index's do.
        Document.objects.filter(pk=batch.document_id).update(
            indexed_chunks=F("indexed_chunks") + len(batch.entries),
            lexical_terms=F("lexical_terms") + sum(entry.length for entry in batch.entries),
        )
        totals = Document.objects.filter(source__bot_profile_id=batch.bot_id).aggregate(
            chunks=Sum("indexed_chunks"), terms=Sum("lexical_terms")
        )
        average_length = (totals["terms"] or 0) / max(totals["chunks"] or 0, 1) or lexical.AVERAGE_DOCUMENT_TERMS
        points = []
        for entry in batch.entries:
            # Qdrant applies the IDF itself (collection modifier); the document side carries saturated tf.
            weights = lexical.saturated_weights(entry.terms, entry.length, average_length=max(average_length, 1.0))
            points.append(
                vectorstore.PointData(
                    id=entry.point_id,
                    sparse_indices=list(weights),
                    sparse_values=list(weights.values()),
                    dense=entry.dense,
                    payload={
                        "tenant_id": tenant_id,
                        "bot_profile_id": batch.bot_id,
                        "source_id": batch.source_id,
                        "version": batch.version,
                    },
                )
            )
        try:
            vectorstore.upsert_points(_collection(batch.space if points and points[0].dense else None), points)
        except vectorstore.VectorStoreError as error:
            raise KnowledgeIndexError(str(error)) from error

    def retire_documents(self, *, source_id: str, document_ids: Sequence[str], versions: Sequence[str]) -> None:
        tenant_id = _tenant_id()

        def remove() -> None:
            for version in versions:
                try:
                    vectorstore.delete_points(tenant_id=tenant_id, source_ids=[source_id], version=version)
                except vectorstore.VectorStoreError:
                    # Harmless for answers: retrieval only returns chunks of current versions.
                    logger.warning("could not remove old vectors of source %s; filtered at retrieval", source_id)

        transaction.on_commit(remove)

    def retire_sources(self, *, source_ids: Sequence[str]) -> bool:
        try:
            vectorstore.delete_points(tenant_id=_tenant_id(), source_ids=[str(pk) for pk in source_ids])
        except vectorstore.VectorStoreError:
            return False
        return True

    def clear(self, *, bot_id: str | None = None, source_ids: Sequence[str] | None = None) -> None:
        sources = Source.objects.all()
        if bot_id:
            sources = sources.filter(bot_profile_id=bot_id)
        if source_ids is not None:
            sources = sources.filter(pk__in=source_ids)
        ids = [str(pk) for pk in sources.values_list("pk", flat=True)]
        try:
            vectorstore.delete_points(tenant_id=_tenant_id(), source_ids=ids)
        except vectorstore.VectorStoreError as error:
            raise KnowledgeIndexError(str(error)) from error
        Document.objects.filter(source_id__in=ids).update(indexed_chunks=0, lexical_terms=0)

    def stored_vectors(self, *, chunks: Sequence[tuple[str, str]], model: str) -> dict[str, list[float]]:
        by_point = {point_id: chunk_id for chunk_id, point_id in chunks}
        try:
            collections = vectorstore.collections_for_model(model)
            found = vectorstore.dense_vectors(collections[0], list(by_point)) if collections else {}
        except vectorstore.VectorStoreError as error:
            raise KnowledgeIndexError(str(error)) from error
        return {by_point[point_id]: vector for point_id, vector in found.items() if point_id in by_point}

    def search(self, *, bot_id: str, query: Query, limit: int, score_threshold: float | None) -> list[RetrievedChunk]:
        try:
            collection = _search_collection(query)
            if collection is None or (query.dense is None and not query.terms):
                return []
            pending_purge = Source.objects.filter(bot_profile_id=bot_id, purge_pending=True).values_list(
                "pk", flat=True
            )
            indices = list(query.terms)
            hits = vectorstore.search(
                collection,
                tenant_id=_tenant_id(),
                bot_id=bot_id,
                sparse_indices=indices,
                sparse_values=[1.0] * len(indices),
                dense=query.dense,
                limit=limit * 2 + 5,  # room for hits _current_chunks drops (superseded versions)
                candidates=max(limit * fusion.CANDIDATE_FACTOR, fusion.MIN_CANDIDATES),
                exclude_source_ids=[str(pk) for pk in pending_purge],
                score_threshold=score_threshold,
                rrf_k=fusion.RRF_K,
                sparse_weight=fusion.SPARSE_WEIGHT,
                dense_weight=fusion.DENSE_WEIGHT,
            )
        except vectorstore.VectorStoreError as error:
            raise KnowledgeIndexError(str(error)) from error
        return _current_chunks(hits, bot_id=bot_id, limit=limit)

    def count_entries(self, *, source_ids: Sequence[str] | None = None, dense: bool = False) -> int:
        tenant_id = _tenant_id()
        ids = [str(source_id) for source_id in source_ids] if source_ids is not None else None
        try:
            names = vectorstore.managed_collections()
            if dense:
                names = [name for name in names if name != vectorstore.SPARSE_COLLECTION]
            return sum(vectorstore.count_points(name, tenant_id=tenant_id, source_ids=ids) for name in names)
        except vectorstore.VectorStoreError as error:
            raise KnowledgeIndexError(str(error)) from error


def _search_collection(query: Query) -> str | None:
    """The collection a query searches: its embedding space's, else the first collection of its fallback model
    (None when that model has none), else the sparse-only collection."""
    if query.dense is not None and query.space is not None:
        return _collection(query.space)
    if query.fallback_model:
        candidates = vectorstore.collections_for_model(query.fallback_model)
        return candidates[0] if candidates else None
    return vectorstore.SPARSE_COLLECTION


def _current_chunks(hits, *, bot_id: str, limit: int) -> list[RetrievedChunk]:
    """The hits whose chunk is still current in the database (active source, current document), in hit order."""
    if not hits:
        return []
    rows = {
        str(row["point_id"]): row
        for row in Chunk.objects.filter(
            point_id__in=[hit.id for hit in hits],
            source__bot_profile_id=bot_id,
            source__is_active=True,
            document_id=F("source__current_document_id"),
        ).values("point_id", "source_id", "source__name", "document_id", "content", "page", "order", "section")
    }
    results: list[RetrievedChunk] = []
    for hit in hits:
        row = rows.get(hit.id)
        if row is None:
            continue
        results.append(
            RetrievedChunk(
                chunk_id=hit.id,
                source_id=str(row["source_id"]),
                source_name=row["source__name"],
                document_id=str(row["document_id"]),
                content=row["content"],
                score=hit.score,
                page=row["page"],
                chunk_index=row["order"],
                section=row["section"],
            )
        )
        if len(results) >= limit:
            break
    return results
