"""Retrieval: the tenant's knowledge for one bot, as RetrievedChunk objects (used by chat).

Hybrid search (dense + BM25, fused with RRF) when the bot has an embedding model, BM25 alone otherwise — so
it works offline with zero keys. The knowledge index (sources.index) only returns chunks of ACTIVE sources'
current versions, so deleted, deactivated or superseded knowledge never answers. Nothing ingested → [].
"""

import logging

from django.conf import settings

from bots.models import BotProfile
from minirag.integrations import embeddings
from sources.index import DenseSpace, Query, RetrievedChunk, get_index
from sources.pipeline import lexical
from sources.pipeline.ingest import IngestError, effective_embedding_model, embedding_config

logger = logging.getLogger("minirag.retrieval")

__all__ = ["RetrievedChunk", "query_embedding", "retrieve"]


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


def retrieve(
    *,
    bot: BotProfile,
    query: str,
    top_k: int | None = None,
    score_threshold: float | None = None,
) -> list[RetrievedChunk]:
    """The `top_k` best chunks of the bot's active sources for `query`, best first, in the current tenant.

    `score_threshold` (default: the bot's) applies to the dense cosine similarity in hybrid mode and to
    the BM25 score in lexical mode. If the query cannot be embedded (provider down), retrieval falls back
    to the lexical leg and logs a warning. Raises sources.index.KnowledgeIndexError when the index is down.
    """
    if not query or not query.strip():
        return []
    if not BotProfile.objects.filter(pk=bot.pk, is_active=True).exists():
        return []  # a deleted bot's knowledge is not searchable
    top_k = top_k or bot.retrieval_top_k or settings.RETRIEVAL_TOP_K
    threshold = score_threshold if score_threshold is not None else bot.score_threshold
    terms = lexical.query_terms(query, language=bot.language)

    search = Query(terms=terms)
    model = effective_embedding_model(bot)
    if model:
        try:
            dense = query_embedding(bot=bot, query=query)
            if dense is not None:
                search = Query(terms=terms, dense=dense, space=DenseSpace(model, len(dense)))
        except embeddings.EmbeddingError as error:
            logger.warning("query embedding failed for bot %s (%s); using lexical retrieval", bot.pk, error)
            search = Query(terms=terms, fallback_model=model)
    if search.dense is None and not terms:
        return []
    return get_index().search(bot_id=str(bot.pk), query=search, limit=top_k, score_threshold=threshold)
