"""Retrieval: the tenant's knowledge for one bot, as RetrievedChunk objects (used by chat).

Hybrid search (dense + sparse, fused with RRF) when the bot has an embedding model, sparse (BM25-style)
alone otherwise — so it works offline with zero keys. Every hit is validated against the database before
it is returned: the chunk must belong to an ACTIVE source of this bot and to that source's current
version. Deleted, deactivated or superseded knowledge therefore never answers, even if its vectors are
still on their way out of Qdrant. Nothing ingested yet → [].
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import F

from bots.models import BotProfile
from minirag.integrations import embeddings, vectorstore
from sources.models import Chunk, Source
from sources.pipeline import lexical
from sources.pipeline.ingest import IngestError, effective_embedding_model, embedding_config

logger = logging.getLogger("minirag.retrieval")


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


def query_embedding(*, bot: BotProfile, query: str) -> list[float] | None:
    """The query's dense vector for `bot` (None when the bot has no embedding model); usage is recorded.

    Raises embeddings.EmbeddingError when the provider fails.
    """
    try:
        config = embedding_config(bot)
    except IngestError as error:
        raise embeddings.EmbeddingError(str(error)) from None
    if config is None:
        return None
    batch = embeddings.embed_batch(config, [query], max_retries=min(2, settings.EMBEDDING_MAX_RETRIES))
    tokens = batch.prompt_tokens
    if not batch.usage_reported:
        from minirag.tokenizer import count_tokens

        tokens = count_tokens(query)
    from usage.services import usage_record

    usage_record(kind="embedding", model=config.model, prompt_tokens=tokens, bot_profile_id=bot.pk)
    return batch.vectors[0]


def _collection_for(bot: BotProfile, dense: list[float] | None) -> str:
    model = effective_embedding_model(bot)
    return vectorstore.collection_name(embedding_model=model, dimension=len(dense) if dense else None)


def retrieve(
    *,
    bot: BotProfile,
    query: str,
    top_k: int | None = None,
    score_threshold: float | None = None,
) -> list[RetrievedChunk]:
    """The `top_k` best chunks of the bot's active sources for `query`, best first, in the current tenant.

    `score_threshold` (default: the bot's) applies to the dense cosine similarity in hybrid mode and to
    the lexical score in sparse-only mode. If the query cannot be embedded (provider down), retrieval
    falls back to the lexical vectors of the same collection and logs a warning.
    """
    if not query or not query.strip():
        return []
    if not BotProfile.objects.filter(pk=bot.pk, is_active=True).exists():
        return []  # a deleted bot's knowledge is not searchable
    top_k = top_k or bot.retrieval_top_k or settings.RETRIEVAL_TOP_K
    threshold = score_threshold if score_threshold is not None else bot.score_threshold
    tenant_id = str(connection.tenant.id)
    indices, values = lexical.query_vector(query)

    dense: list[float] | None = None
    collection = vectorstore.SPARSE_COLLECTION
    model = effective_embedding_model(bot)
    if model:
        try:
            dense = query_embedding(bot=bot, query=query)
            collection = _collection_for(bot, dense)
        except embeddings.EmbeddingError as error:
            logger.warning("query embedding failed for bot %s (%s); using lexical retrieval", bot.pk, error)
            candidates = vectorstore.collections_for_model(model)
            if not candidates:
                return []
            collection = candidates[0]
    if dense is None and not indices:
        return []

    # Sources whose vectors could not be purged yet are excluded in the query itself (usually none).
    pending_purge = Source.objects.filter(bot_profile=bot, purge_pending=True).values_list("pk", flat=True)
    excluded = [str(pk) for pk in pending_purge]
    hits = vectorstore.search(
        collection,
        tenant_id=tenant_id,
        bot_id=str(bot.pk),
        sparse_indices=indices,
        sparse_values=values,
        dense=dense,
        limit=top_k * 2 + 5,  # room for hits the database check below drops (superseded versions)
        exclude_source_ids=excluded,
        score_threshold=threshold,
    )
    if not hits:
        return []
    rows = {
        str(row["point_id"]): row
        for row in Chunk.objects.filter(
            point_id__in=[hit.id for hit in hits],
            source__bot_profile=bot,
            source__is_active=True,
            document_id=F("source__current_document_id"),
        ).values("point_id", "source_id", "source__name", "document_id", "content", "page", "order")
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
            )
        )
        if len(results) >= top_k:
            break
    return results
