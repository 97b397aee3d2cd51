"""Reranking through LiteLLM: the only module that calls `litellm.rerank`.

A reranker (Cohere, Jina, Voyage, Together, Infinity, a self-hosted vLLM or Hugging Face endpoint, …) reads the
question together with each candidate passage and scores how well the passage answers it, which a first-stage
ranking (BM25, embeddings, their fusion) cannot do. Retrieval asks it to reorder a deeper candidate list.

It sits in the chat's critical path, so there is one attempt with a short timeout (RERANK_TIMEOUT_SECONDS) and
no retry; every failure ends as a RerankError with a fixed, key-free message, and the caller keeps its own order.
A tenant-supplied `api_base` goes through the SSRF guard before the call and the call runs inside
`netguard.outbound_guard()` (as chat and embedding calls do: minirag.integrations.llm).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from minirag import tokenizer
from minirag.integrations import retry
from minirag.integrations.llm import guarded_call, install_outbound_guard
from minirag.netguard import UnsafeURLError, check_url

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

logger = logging.getLogger("minirag.rerank")

# Providers LiteLLM reranks with a handler of their own; for the others, LiteLLM has a rerank configuration
# when it can rerank at all (its default, Cohere's, stands for "no rerank support" on any other provider).
_OWN_HANDLER_PROVIDERS = frozenset({"cohere", "cohere_chat", "litellm_proxy", "together_ai", "bedrock"})


class RerankError(Exception):
    """The reranker failed; `str(error)` is safe to log or show."""


@dataclass(frozen=True)
class RerankConfig:
    model: str
    api_key: str | None = None
    api_base: str | None = None

    def __repr__(self) -> str:  # never print a key
        return f"RerankConfig(model={self.model!r}, api_base={self.api_base!r})"


@dataclass(frozen=True)
class Reranking:
    """The reranker's answer: (index into the documents sent, relevance score), best first."""

    ranking: list[tuple[int, float]]
    tokens: int
    usage_reported: bool  # False: `tokens` were counted locally (query once per document, plus the documents)
    latency_ms: int


def _litellm():
    import litellm

    litellm.suppress_debug_info = True
    install_outbound_guard(litellm)  # see llm.install_outbound_guard: connections go where the guard looked
    return litellm


def model_problem(model: str) -> str | None:
    """Why LiteLLM cannot rerank with `model` (no provider prefix it knows, or a provider without a rerank API),
    or None. Offline: it reads LiteLLM's provider tables, it does not call the provider."""
    litellm = _litellm()
    from litellm.utils import ProviderConfigManager

    try:
        name, provider, _, _ = litellm.get_llm_provider(model=model)
        config = ProviderConfigManager.get_provider_rerank_config(
            model=name, provider=litellm.LlmProviders(provider), api_base=None, present_version_params=[]
        )
    except Exception:  # noqa: BLE001 - LiteLLM raises BadRequestError or ValueError for unknown providers
        return (
            f"LiteLLM does not know which provider serves {model!r}; name it with a provider prefix "
            "(e.g. cohere/rerank-v3.5, jina_ai/jina-reranker-v2-base-multilingual, voyage/rerank-2)"
        )
    # Exact types: some providers' configurations (Infinity's) subclass Cohere's.
    default_config = type(config) in (litellm.CohereRerankConfig, litellm.CohereRerankV2Config)
    if default_config and provider not in _OWN_HANDLER_PROVIDERS:
        return f"LiteLLM has no rerank API for the provider {provider!r}"
    return None


def _message_for(error: Exception) -> str:
    litellm = _litellm()
    status = retry.status_of(error)
    if isinstance(error, litellm.Timeout) or type(error).__name__.endswith("Timeout"):
        return "The reranker timed out"
    if isinstance(error, litellm.AuthenticationError | litellm.PermissionDeniedError) or status in (401, 403):
        return "The reranker rejected the API key"
    if isinstance(error, litellm.NotFoundError) or status == 404:
        return "The rerank model was not found at the provider"
    if isinstance(error, litellm.RateLimitError) or status == 429:
        return "The reranker is rate-limiting the requests"
    return "The reranker failed"


def _usage(response: Any, query: str, documents: Sequence[str]) -> tuple[int, bool]:
    meta = getattr(response, "meta", None) or {}
    reported = (meta.get("tokens") or {}).get("input_tokens") or (meta.get("billed_units") or {}).get("total_tokens")
    if reported:
        return int(reported), True
    # Cross-encoders read the query with every document.
    query_tokens = tokenizer.count_tokens(query)
    return sum(query_tokens + tokenizer.count_tokens(document) for document in documents), False


def rerank(config: RerankConfig, *, query: str, documents: Sequence[str], top_n: int) -> Reranking:
    """The `top_n` most relevant of `documents` for `query`, best first. Raises RerankError."""
    if not documents:
        return Reranking(ranking=[], tokens=0, usage_reported=True, latency_ms=0)
    if config.api_base:
        try:
            check_url(config.api_base)
        except UnsafeURLError as error:
            raise RerankError(f"The rerank endpoint is not allowed: {error}") from None
    litellm = _litellm()
    kwargs: dict[str, Any] = {
        "model": config.model,
        "query": query,
        "documents": list(documents),
        "top_n": min(top_n, len(documents)),
        "return_documents": False,
        "timeout": settings.RERANK_TIMEOUT_SECONDS,
        "max_retries": 0,
        "num_retries": 0,
    }
    if config.api_key:
        kwargs["api_key"] = config.api_key
    if config.api_base:
        kwargs["api_base"] = config.api_base
    started = time.monotonic()
    try:
        response = guarded_call(
            config.api_base,
            lambda: litellm.rerank(**kwargs),
            refused=RerankError("The rerank endpoint is not allowed: a connection was refused by the network policy"),
        )
    except RerankError:
        raise
    except Exception as error:  # noqa: BLE001 - every provider failure is classified, never shown raw
        logger.warning("rerank failed: %s (status %s)", type(error).__name__, retry.status_of(error))
        raise RerankError(_message_for(error)) from None
    latency_ms = int((time.monotonic() - started) * 1000)
    ranking: list[tuple[int, float]] = []
    seen: set[int] = set()
    for result in getattr(response, "results", None) or []:
        index = result.get("index") if isinstance(result, dict) else getattr(result, "index", None)
        score = result.get("relevance_score") if isinstance(result, dict) else getattr(result, "relevance_score", None)
        if not isinstance(index, int) or not 0 <= index < len(documents) or index in seen or score is None:
            raise RerankError("The reranker returned an answer that does not match the documents sent")
        seen.add(index)
        ranking.append((index, float(score)))
    ranking.sort(key=lambda pair: -pair[1])  # providers answer best first; do not depend on it
    tokens, reported = _usage(response, query, documents)
    return Reranking(ranking=ranking[:top_n], tokens=tokens, usage_reported=reported, latency_ms=latency_ms)
