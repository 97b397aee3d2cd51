"""What LLM and embedding calls share about provider failures: status, Retry-After, backoff delays."""

import random


def status_of(error: Exception) -> int | None:
    """The HTTP status a provider error carries, if any."""
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient_status(error: Exception) -> bool:
    """429 and 5xx: worth another try after a pause."""
    status = status_of(error)
    return status is not None and (status == 429 or status >= 500)


def retry_after(error: Exception) -> float | None:
    """The provider's Retry-After (seconds), from LiteLLM's copy of the headers or the raw response."""
    headers = getattr(error, "litellm_response_headers", None)
    if not headers:
        headers = getattr(getattr(error, "response", None), "headers", None)
    if not headers:
        return None
    try:
        return max(0.0, float(headers.get("retry-after")))
    except (TypeError, ValueError):
        return None


def backoff_delay(attempt: int, retry_after_seconds: float | None, *, base: float, cap: float) -> float:
    """Seconds before retry `attempt` (0-based): Retry-After when given (capped), else jittered base·2^n."""
    if retry_after_seconds is not None:
        return min(retry_after_seconds, cap)
    delay = min(base * (2**attempt), cap)
    return delay * (0.5 + random.random() / 2)
