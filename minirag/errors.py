"""Domain errors raised by services; the API exception handler turns them into `{"detail": ...}`."""


class DomainError(Exception):
    """A failure a client can act on. `status_code` is the HTTP status the API answers with."""

    status_code = 400
    default_detail = "Bad request"
    headers: dict[str, str] = {}  # extra response headers (e.g. Retry-After)

    def __init__(self, detail: str | list | None = None):
        self.detail = detail if detail is not None else self.default_detail
        super().__init__(self.detail if isinstance(self.detail, str) else str(self.detail))


class InvalidInput(DomainError):
    status_code = 422
    default_detail = "Invalid input"


class NotFound(DomainError):
    status_code = 404
    default_detail = "Not found"


class Conflict(DomainError):
    status_code = 409
    default_detail = "Conflict"


class PermissionDenied(DomainError):
    status_code = 403
    default_detail = "Permission denied"


class AuthenticationError(DomainError):
    status_code = 401
    default_detail = "Not authenticated"


class ServiceUnavailable(DomainError):
    status_code = 503
    default_detail = "Service temporarily unavailable"


class UpstreamError(DomainError):
    """A provider (LLM, embedder, remote URL) failed; `detail` is always sanitized."""

    status_code = 502
    default_detail = "Upstream provider error"


class UpstreamTimeout(UpstreamError):
    status_code = 504
    default_detail = "Upstream provider timed out"


class QuotaExceeded(DomainError):
    """A tenant reached its plan's quota. 429 for rate-like quotas (tokens, requests per period: wait for the next
    period), 403 for size-like ones (sources, chunks, bytes, bots: delete something or change plan)."""

    status_code = 403
    default_detail = "Quota exceeded"

    def __init__(self, detail: str, *, quota: str, status_code: int = 403, retry_after: int | None = None):
        super().__init__(detail)
        self.quota = quota
        self.status_code = status_code
        if retry_after is not None:
            self.headers = {"Retry-After": str(max(1, retry_after))}
