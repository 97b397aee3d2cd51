"""Retrieval: the tenant's knowledge for one bot, as RetrievedChunk objects (used by chat).

Hybrid search (dense + BM25, fused with RRF) when the bot has an embedding model, BM25 alone otherwise — so
it works offline with zero keys. With a reranker (`bot.rerank_model`), a deeper candidate list goes to it and
its order and relevance scores are kept; a reranker that fails or times out leaves the fused order. The
knowledge index (sources.index) only returns chunks of ACTIVE sources' current versions, so deleted,
deactivated or superseded knowledge never answers. Nothing ingested → [].
"""

import logging
from dataclasses import replace

from django.conf import settings

from bots.models import BotProfile
from bots.selectors import bot_get
from bots.services import bot_credentials
from minirag.encryption import DecryptionError
from minirag.errors import NotFound, ServiceUnavailable
from minirag.integrations import embeddings, rerank
from minirag.tokenizer import count_tokens
from sources.index import DenseSpace, KnowledgeIndexError, Query, RetrievedChunk, get_index
from sources.pipeline import lexical
from sources.pipeline.ingest import IngestError, effective_embedding_model, embedding_config
from usage.models import UsageKind
from usage.services import usage_record

logger = logging.getLogger("minirag.retrieval")

__all__ = ["RetrievedChunk", "knowledge_search", "query_embedding", "rerank_config", "retrieve"]

# With a reranker, it sees max(top_k × RERANK_CANDIDATE_FACTOR, RERANK_MIN_CANDIDATES) fused candidates: deep
# enough to lift a relevant passage the first stage ranked low, small enough for one provider call (Cohere
# bills a search per 100 documents) within RERANK_TIMEOUT_SECONDS.
RERANK_CANDIDATE_FACTOR = 4
RERANK_MIN_CANDIDATES = 20


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
    tokens = batch.prompt_tokens if batch.usage_reported else count_tokens(query)
    usage_record(kind=UsageKind.EMBEDDING, model=config.model, prompt_tokens=tokens, bot_profile_id=bot.pk)
    return batch.vectors[0]


def rerank_config(bot: BotProfile) -> rerank.RerankConfig | None:
    """The bot's reranker (None without `rerank_model`). Its key and endpoint are the `rerank_api_key` and
    `rerank_api_base` credentials, else the provider's own environment variable (e.g. COHERE_API_KEY) and
    endpoint; never the chat model's key or base, which belong to another provider as often as not.

    Raises rerank.RerankError when the credentials cannot be decrypted."""
    if not bot.rerank_model:
        return None
    try:
        credentials = bot_credentials(bot)
    except DecryptionError:
        raise rerank.RerankError("The bot's credentials cannot be decrypted (encryption key missing)") from None
    return rerank.RerankConfig(
        model=bot.rerank_model,
        api_key=credentials.get("rerank_api_key") or None,
        api_base=credentials.get("rerank_api_base") or None,
    )


def _passage_text(chunk: RetrievedChunk) -> str:
    """What the reranker reads: the passage under its title › section path, as a reader would see it."""
    if chunk.section and not chunk.content.startswith(chunk.section):
        return f"{chunk.section}\n\n{chunk.content}"
    return chunk.content


def _reranked(*, bot: BotProfile, query: str, candidates: list[RetrievedChunk], top_k: int) -> list[RetrievedChunk]:
    """`candidates` in the reranker's order with its relevance scores, `top_k` of them; the fused order when
    the reranker fails (logged, never raised: a reranker must not fail a chat). Usage is recorded."""
    fused = candidates[:top_k]
    if not candidates:
        return fused
    try:
        config = rerank_config(bot)
        if config is None:
            return fused
        result = rerank.rerank(config, query=query, documents=[_passage_text(c) for c in candidates], top_n=top_k)
    except rerank.RerankError as error:
        logger.warning("reranking failed for bot %s (%s); keeping the fused order", bot.pk, error)
        return fused
    usage_record(
        kind=UsageKind.RERANK,
        model=config.model,
        prompt_tokens=result.tokens,
        bot_profile_id=bot.pk,
        latency_ms=result.latency_ms,
    )
    return [replace(candidates[index], score=score) for index, score in result.ranking]


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
    to the lexical leg and logs a warning. With `bot.rerank_model`, the reranker orders a deeper candidate list
    and `score` is its relevance score (the threshold still applies in the index, before reranking). Raises
    sources.index.KnowledgeIndexError when the index is down.
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
    if not bot.rerank_model:
        return get_index().search(bot_id=str(bot.pk), query=search, limit=top_k, score_threshold=threshold)
    depth = max(top_k * RERANK_CANDIDATE_FACTOR, RERANK_MIN_CANDIDATES)
    candidates = get_index().search(bot_id=str(bot.pk), query=search, limit=depth, score_threshold=threshold)
    return _reranked(bot=bot, query=query, candidates=candidates, top_k=top_k)


SEARCH_USAGE_MODEL = "search"  # a search calls no model itself; its embedding and rerank calls are their own rows
SEARCH_UNAVAILABLE = "Knowledge retrieval is temporarily unavailable; please retry"


def knowledge_search(*, bot_id, query: str, top_k: int) -> list[RetrievedChunk]:
    """The `top_k` passages chat would retrieve for `query` (the bot's hybrid, threshold and rerank settings),
    best first, for hit-testing and for clients that bring their own LLM.

    Records a `search` UsageEvent (no tokens: the query embedding and the rerank call, when made, record their
    own). Raises NotFound for an unknown or inactive bot, ServiceUnavailable when the index is down.
    """
    try:
        bot = bot_get(bot_id=bot_id, active_only=True)
    except NotFound:
        raise NotFound("Bot profile not found or inactive") from None
    try:
        chunks = retrieve(bot=bot, query=query, top_k=top_k)
    except KnowledgeIndexError:
        logger.exception("search failed for bot %s", bot.pk)
        raise ServiceUnavailable(SEARCH_UNAVAILABLE) from None
    usage_record(kind=UsageKind.SEARCH, model=SEARCH_USAGE_MODEL, prompt_tokens=0, bot_profile_id=bot.pk)
    return chunks
