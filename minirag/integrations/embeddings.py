"""Dense embeddings through LiteLLM: the only module that calls `litellm.embedding`.

Callers send texts in batches (`embed_batch`, EMBEDDING_BATCH_SIZE texts each). A batch that fails with a rate
limit (429), a provider error (5xx) or a dropped connection is retried — that batch only; finished batches are
kept — with exponential backoff that honours the provider's `Retry-After`. Every failure ends as an EmbeddingError
whose message is fixed and key-free (the provider's text never reaches users or logs); its `detail` keeps the
provider's own words for operators (Source.error_detail), with anything key-like masked (minirag.redaction).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from minirag.integrations import retry
from minirag.integrations.llm import guarded_call, install_outbound_guard
from minirag.netguard import UnsafeURLError, check_url
from minirag.redaction import redact

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

logger = logging.getLogger("minirag.embeddings")

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
PROVIDER_DETAIL_CHARS = 500  # of the provider's message kept in `EmbeddingError.detail`
_sleep = time.sleep  # replaced in tests


class EmbeddingError(Exception):
    """The embedding provider failed; `str(error)` is safe to show to the user. `detail` is for operators only:
    what the provider said (redacted, capped), or "" when the failure was ours."""

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def provider_detail(error: Exception) -> str:
    """The provider's failure as an operator should read it: the exception's type, the HTTP status and the
    provider's message with anything key-like masked, at most PROVIDER_DETAIL_CHARS of it."""
    status = retry.status_of(error)
    said = redact(" ".join(str(error).split()), limit=PROVIDER_DETAIL_CHARS)
    return f"{type(error).__name__}" + (f" (HTTP {status})" if status else "") + (f": {said}" if said else "")


@dataclass(frozen=True)
class EmbeddingConfig:
    model: str
    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None

    def __repr__(self) -> str:  # never print a key
        return f"EmbeddingConfig(model={self.model!r}, api_base={self.api_base!r})"


@dataclass
class EmbeddingBatch:
    vectors: list[list[float]]
    prompt_tokens: int
    usage_reported: bool


def _litellm():
    import litellm

    litellm.suppress_debug_info = True
    # LiteLLM's OpenAI embedding path turns `max_retries=0` into its default (`0 or DEFAULT_MAX_RETRIES`), so
    # the OpenAI SDK would retry on its own, ignoring our per-batch backoff. Every MiniRAG caller passes its
    # own retry count (and does its own retries), so a zero default changes nothing else.
    litellm.DEFAULT_MAX_RETRIES = 0
    install_outbound_guard(litellm)  # see llm.install_outbound_guard: connections go where the guard looked
    return litellm


def _is_retryable(error: Exception) -> bool:
    litellm = _litellm()
    if isinstance(error, litellm.RateLimitError | litellm.InternalServerError | litellm.ServiceUnavailableError):
        return True
    if isinstance(error, litellm.APIConnectionError | litellm.Timeout):
        return True
    return retry.is_transient_status(error)


def backoff_delay(attempt: int, retry_after_seconds: float | None = None) -> float:
    return retry.backoff_delay(attempt, retry_after_seconds, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS)


def _message_for(error: Exception) -> str:
    litellm = _litellm()
    status = retry.status_of(error)
    if isinstance(error, litellm.Timeout):
        return "The embedding provider timed out"
    if isinstance(error, litellm.AuthenticationError | litellm.PermissionDeniedError) or status in (401, 403):
        return "The embedding provider rejected the API key (check the bot's credentials)"
    if isinstance(error, litellm.NotFoundError) or status == 404:
        return "The embedding model was not found at the provider"
    if isinstance(error, litellm.RateLimitError) or status == 429:
        return "The embedding provider kept rate-limiting the requests"
    if isinstance(error, litellm.BadRequestError) or status == 400:
        return "The embedding provider refused the request (check the embedding model name)"
    return "The embedding provider failed"


def _embed_once(config: EmbeddingConfig, texts: Sequence[str]) -> EmbeddingBatch:
    litellm = _litellm()
    kwargs: dict[str, Any] = {
        "model": config.model,
        "input": list(texts),
        "timeout": settings.EMBEDDING_TIMEOUT_SECONDS,
        "max_retries": 0,  # retries are ours, per batch
        "num_retries": 0,
    }
    if config.api_key:
        kwargs["api_key"] = config.api_key
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if config.api_version:
        kwargs["api_version"] = config.api_version
    response = guarded_call(
        config.api_base,
        lambda: litellm.embedding(**kwargs),
        refused=EmbeddingError("The embedding endpoint is not allowed: a connection was refused by the network policy"),
    )
    data = sorted(response.data, key=lambda item: item["index"] if isinstance(item, dict) else item.index)
    vectors = [list(item["embedding"] if isinstance(item, dict) else item.embedding) for item in data]
    if len(vectors) != len(texts):
        raise EmbeddingError("The embedding provider returned the wrong number of vectors")
    usage = getattr(response, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None) if usage is not None else None
    return EmbeddingBatch(vectors=vectors, prompt_tokens=int(prompt_tokens or 0), usage_reported=bool(prompt_tokens))


def embed_batch(config: EmbeddingConfig, texts: Sequence[str], *, max_retries: int | None = None) -> EmbeddingBatch:
    """Embed one batch, retrying transient failures of this batch with backoff."""
    if config.api_base:
        try:
            check_url(config.api_base)
        except UnsafeURLError as error:
            raise EmbeddingError(f"The embedding endpoint is not allowed: {error}") from None
    retries = settings.EMBEDDING_MAX_RETRIES if max_retries is None else max_retries
    attempt = 0
    while True:
        try:
            return _embed_once(config, texts)
        except EmbeddingError:
            raise
        except Exception as error:  # noqa: BLE001 - every provider failure is classified below
            status = retry.status_of(error)
            if attempt >= retries or not _is_retryable(error):
                logger.warning("embedding failed: %s (status %s), attempt %d", type(error).__name__, status, attempt)
                raise EmbeddingError(_message_for(error), detail=provider_detail(error)) from None
            delay = backoff_delay(attempt, retry.retry_after(error))
            logger.info("embedding batch failed (%s, status %s); retry %d in %.2fs",
                        type(error).__name__, status, attempt + 1, delay)  # fmt: skip
            _sleep(delay)
            attempt += 1
