"""Chat completions through LiteLLM: the only module that calls `litellm.completion`.

Every call has a timeout, retries rate limits (429) and provider errors (5xx, dropped connections) with
exponential backoff (honouring `Retry-After`), and turns every failure into a sanitized domain error:

    UpstreamError("LLM authentication failed")   401/403
    UpstreamError("LLM rate limit exceeded")     429 after the retries
    UpstreamTimeout("LLM request timed out")     timeouts (504)
    UpstreamError("LLM provider error")          anything else

The provider's own message never reaches a client (it can quote keys or internals); it is not logged either,
only its type and status. A tenant-supplied `api_base` goes through the SSRF guard right before each call,
and the call itself runs inside `netguard.outbound_guard()`: LiteLLM's HTTP clients use the guard's transport
(`install_outbound_guard`), so each connection (redirects included) goes to an address the guard checked,
with no second DNS answer in between (no DNS rebinding).

Slightly over ~400 lines on purpose: the retry, the error mapping and the guard apply to completion and
streaming alike, and split apart they would have to be read side by side anyway.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings

from minirag import tokenizer
from minirag.errors import UpstreamError, UpstreamTimeout
from minirag.integrations import retry
from minirag.netguard import UnsafeURLError, check_url, guarded_transport, outbound_guard

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

logger = logging.getLogger("minirag.llm")

EXTRACTIVE_MODEL = "extractive"
AUTH_FAILED = "LLM authentication failed"
RATE_LIMITED = "LLM rate limit exceeded"
TIMED_OUT = "LLM request timed out"
PROVIDER_ERROR = "LLM provider error"
ENDPOINT_REFUSED = "LLM endpoint is not allowed"
# Tokens added per chat message by the OpenAI chat format (role, separators); used for local counts.
MESSAGE_OVERHEAD_TOKENS = 4
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0


def _sleep(seconds: float) -> None:  # a seam for tests
    time.sleep(seconds)


@dataclass(frozen=True)
class LLMConfig:
    """What a call needs: the model and the bot's (decrypted) credentials and sampling settings."""

    model: str
    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    max_retries: int | None = None

    def __repr__(self) -> str:  # never print a key
        return f"LLMConfig(model={self.model!r}, api_base={self.api_base!r})"


@dataclass
class Completion:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool  # False: counted locally
    latency_ms: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _litellm():
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True  # providers that reject a parameter (e.g. temperature) still answer
    install_outbound_guard(litellm)
    return litellm


_guard_lock = threading.Lock()
_guard_installed = False


def install_outbound_guard(litellm) -> None:
    """Make LiteLLM's synchronous HTTP go through the SSRF guard's transport (once per process).

    `client_session` is the httpx client of every OpenAI-SDK-based provider (openai/, azure, most
    OpenAI-compatible servers); `sync_transport` is the transport of LiteLLM's own HTTP handler (the other
    providers), read when it creates a client. Outside `outbound_guard()` the transport behaves like httpx's,
    so endpoints the operator configured (environment) are not judged by the tenant rules. An explicit
    transport means httpx ignores HTTP(S)_PROXY: provider calls go direct, as URL sources and webhooks do.
    """
    global _guard_installed
    if _guard_installed:
        return
    import httpx

    with _guard_lock:
        if not _guard_installed:
            litellm.client_session = httpx.Client(transport=guarded_transport(), follow_redirects=True)
            litellm.sync_transport = guarded_transport()
            _guard_installed = True


def guarded_call(api_base: str | None, call, *, refused: Exception):
    """Run `call()`; when the bot names its own endpoint, inside the SSRF guard, raising `refused` if the guard
    refused a connection (a DNS answer that changed after the check, or a redirect to a refused address)."""
    if not api_base:
        return call()
    with outbound_guard() as guard:
        try:
            return call()
        except Exception:
            if guard.refused:
                logger.warning("a provider connection was refused by the SSRF guard: %s", guard.refused)
                raise refused from None
            raise


# --- Local token counting ------------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """Tokens in `text` (cl100k_base, bundled offline): the local fallback when a provider reports no usage."""
    return tokenizer.count_tokens(text)


def count_message_tokens(messages: list[dict]) -> int:
    return sum(count_tokens(str(m.get("content") or "")) + MESSAGE_OVERHEAD_TOKENS for m in messages)


@lru_cache(maxsize=256)
def _known_context_window(model: str) -> int | None:
    try:
        info = _litellm().get_model_info(model)
    except Exception:  # noqa: BLE001 - LiteLLM raises a bare Exception for unmapped models
        return None
    value = info.get("max_input_tokens") or info.get("max_tokens")
    return int(value) if value else None


def context_window(model: str) -> int:
    """Input tokens the model accepts (LiteLLM's model info), or CHAT_DEFAULT_CONTEXT_TOKENS when unknown."""
    if model == EXTRACTIVE_MODEL:
        return settings.CHAT_DEFAULT_CONTEXT_TOKENS
    return _known_context_window(model) or settings.CHAT_DEFAULT_CONTEXT_TOKENS


# --- Errors and retries --------------------------------------------------------------------------------


def _is_timeout(error: Exception) -> bool:
    import httpx

    litellm = _litellm()
    return isinstance(error, (litellm.Timeout, httpx.TimeoutException, TimeoutError))


def _is_retryable(error: Exception) -> bool:
    litellm = _litellm()
    if _is_timeout(error):
        return False  # a timeout already spent the budget; retrying would multiply it
    if isinstance(error, (litellm.RateLimitError, litellm.InternalServerError, litellm.ServiceUnavailableError)):
        return True
    if isinstance(error, litellm.APIConnectionError):
        return True
    return retry.is_transient_status(error)


def sanitize(error: Exception) -> UpstreamError:
    """Map any provider failure to a domain error with a fixed, key-free message."""
    if isinstance(error, UpstreamError):
        return error
    litellm = _litellm()
    status = retry.status_of(error)
    logger.warning("LLM call failed: %s (status %s)", type(error).__name__, status)
    if _is_timeout(error):
        return UpstreamTimeout(TIMED_OUT)
    if isinstance(error, (litellm.AuthenticationError, litellm.PermissionDeniedError)) or status in (401, 403):
        return UpstreamError(AUTH_FAILED)
    if isinstance(error, litellm.RateLimitError) or status == 429:
        return UpstreamError(RATE_LIMITED)
    return UpstreamError(PROVIDER_ERROR)


def backoff_delay(attempt: int, retry_after_seconds: float | None = None) -> float:
    return retry.backoff_delay(attempt, retry_after_seconds, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS)


def _with_retries(config: LLMConfig, call):
    retries = settings.LLM_MAX_RETRIES if config.max_retries is None else config.max_retries
    attempt = 0
    while True:
        try:
            return call()
        except UpstreamError:
            raise  # already classified (e.g. the endpoint was refused): never retried
        except Exception as error:  # noqa: BLE001 - every provider failure is classified, then sanitized
            if attempt >= retries or not _is_retryable(error):
                raise sanitize(error) from None
            delay = backoff_delay(attempt, retry.retry_after(error))
            logger.info("LLM call failed (%s); retry %d in %.2fs", type(error).__name__, attempt + 1, delay)
            _sleep(delay)
            attempt += 1


def _check_endpoint(config: LLMConfig) -> None:
    if config.api_base:
        try:
            check_url(config.api_base)
        except UnsafeURLError:
            raise UpstreamError(ENDPOINT_REFUSED) from None


def _guarded(config: LLMConfig, call):
    return guarded_call(config.api_base, call, refused=UpstreamError(ENDPOINT_REFUSED))


def _kwargs(config: LLMConfig, messages: list[dict]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "timeout": config.timeout or settings.LLM_TIMEOUT_SECONDS,
        "max_retries": 0,  # retries are ours (backoff, Retry-After, and never after tokens were streamed)
    }
    if config.temperature is not None:
        kwargs["temperature"] = config.temperature
    if config.max_tokens:
        kwargs["max_tokens"] = config.max_tokens
    if config.api_key:
        kwargs["api_key"] = config.api_key
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if config.api_version:
        kwargs["api_version"] = config.api_version
    return kwargs


def _usage_numbers(usage: Any) -> tuple[int, int] | None:
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is None and completion is None:
        return None
    return int(prompt or 0), int(completion or 0)


# --- Calls ---------------------------------------------------------------------------------------------


def complete(*, config: LLMConfig, messages: list[dict]) -> Completion:
    """One non-streamed completion. Raises UpstreamError / UpstreamTimeout (sanitized)."""
    _check_endpoint(config)
    litellm = _litellm()
    started = time.monotonic()
    response = _with_retries(config, lambda: _guarded(config, lambda: litellm.completion(**_kwargs(config, messages))))
    latency_ms = int((time.monotonic() - started) * 1000)
    try:
        content = response.choices[0].message.content or ""
    except (AttributeError, IndexError):
        raise UpstreamError(PROVIDER_ERROR) from None
    reported = _usage_numbers(getattr(response, "usage", None))
    if reported is None:
        prompt_tokens, completion_tokens = count_message_tokens(messages), count_tokens(content)
    else:
        prompt_tokens, completion_tokens = reported
    return Completion(
        content=content,
        model=config.model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        usage_reported=reported is not None,
        latency_ms=latency_ms,
    )


class CompletionStream:
    """A streamed completion: iterate for text pieces; after the end read the usage and timings.

    Usage is the provider's (requested with `stream_options.include_usage`) or, when absent, counted
    locally. Retries happen only before the first piece. `close()` stops generation (client gone).
    """

    def __init__(self, *, config: LLMConfig, messages: list[dict]):
        self.config = config
        self.messages = messages
        self.model = config.model
        self.text_parts: list[str] = []
        self.reported: tuple[int, int] | None = None
        self.started = time.monotonic()
        self.first_token_at: float | None = None
        self.finished_at: float | None = None
        self._stream = None
        self._closed = False

    def open(self) -> CompletionStream:
        """Start the request (retried on 429/5xx). Raises sanitized errors."""
        _check_endpoint(self.config)
        litellm = _litellm()
        kwargs = _kwargs(self.config, self.messages)
        kwargs.update(stream=True, stream_options={"include_usage": True})
        self.started = time.monotonic()
        # The connection is opened here (the body is read later, on the same connection).
        self._stream = _with_retries(self.config, lambda: _guarded(self.config, lambda: litellm.completion(**kwargs)))
        return self

    def __iter__(self) -> Iterator[str]:
        if self._stream is None:
            self.open()
        try:
            for chunk in self._stream:
                if self._closed:
                    break
                usage = _usage_numbers(getattr(chunk, "usage", None))
                if usage is not None and any(usage):
                    self.reported = usage
                choices = getattr(chunk, "choices", None) or []
                content = getattr(choices[0].delta, "content", None) if choices else None
                if content:
                    if self.first_token_at is None:
                        self.first_token_at = time.monotonic()
                    self.text_parts.append(content)
                    yield content
        except GeneratorExit:
            self.close()
            raise
        except Exception as error:  # noqa: BLE001 - sanitized: no raw provider text escapes
            self.finished_at = self.finished_at or time.monotonic()
            if self._closed:
                return  # we dropped the connection ourselves (client gone): not a provider failure
            raise sanitize(error) from None
        self.finished_at = time.monotonic()
        if not self._closed and not self.text_parts and not self._provider_finished():
            # Nothing the provider sent was a chunk (an HTML error page, a JSON body, an empty body with 200):
            # a provider failure, as on the non-streamed path, not an empty answer.
            logger.warning("LLM stream ended without content or a finish reason (malformed response)")
            raise UpstreamError(PROVIDER_ERROR)

    def _provider_finished(self) -> bool:
        """Whether the provider itself ended the answer. LiteLLM closes every stream with a "stop" chunk, its
        own when the provider sent none; it records a finish reason only when the provider sent one."""
        return bool(
            getattr(self._stream, "received_finish_reason", None)
            or getattr(self._stream, "intermittent_finish_reason", None)
        )

    def close(self) -> None:
        """Stop reading and drop the provider connection."""
        self._closed = True
        self.finished_at = self.finished_at or time.monotonic()
        inner = getattr(self._stream, "completion_stream", None)
        for target in (inner, getattr(inner, "response", None)):
            closer = getattr(target, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:  # noqa: BLE001 - best effort on a connection we are abandoning
                    logger.debug("closing the LLM stream failed", exc_info=True)
                break

    @property
    def content(self) -> str:
        return "".join(self.text_parts)

    @property
    def usage_reported(self) -> bool:
        return self.reported is not None

    @property
    def prompt_tokens(self) -> int:
        return self.reported[0] if self.reported else count_message_tokens(self.messages)

    @property
    def completion_tokens(self) -> int:
        return self.reported[1] if self.reported else count_tokens(self.content)

    @property
    def time_to_first_token_ms(self) -> int | None:
        if self.first_token_at is None:
            return None
        return int((self.first_token_at - self.started) * 1000)

    @property
    def duration_ms(self) -> int:
        end = self.finished_at or time.monotonic()
        return int((end - self.started) * 1000)
