"""The wire format and one HTTP attempt: body, signature, headers, SSRF-pinned POST, outcome, backoff.

Wire format (compatible with the reference, plus replay protection):
- Body: `json.dumps(body)` with default separators, UTF-8. The body is the reference's bare event payload
  (`source_id`, `chat_id`, ...) plus three envelope fields: `event`, `delivery_id` and `timestamp` (Unix
  seconds of this attempt). Receivers written for the reference keep reading the same keys.
- `X-MiniRAG-Signature`: hex HMAC-SHA256 of the exact body bytes, keyed with the secret's UTF-8 bytes.
  Because `timestamp` and `delivery_id` are inside the signed body, a replayed request cannot be given a
  fresh timestamp without breaking the signature.
- `X-MiniRAG-Event`, `X-MiniRAG-Delivery` (unique per event and webhook, the same on every retry) and
  `X-MiniRAG-Timestamp` mirror the body so receivers can route before parsing.
"""

import hashlib
import hmac
import ipaddress
import json
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

from minirag.netguard import UnsafeURLError, resolve_and_check

USER_AGENT = "MiniRAG-Webhooks/1.0"
# Delay before attempt n+1 is BACKOFF_BASE_SECONDS * 2**(n-1): 30 s, 1, 2, 4, 8, 16, 32 min. With the
# default 8 attempts the last one happens about 64 minutes after the first.
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
BACKOFF_JITTER = 0.1  # up to +10%, so a burst of failures does not retry in lockstep


def build_body(*, event: str, payload: dict, delivery_id: str, timestamp: int) -> bytes:
    body = {**payload, "event": event, "delivery_id": delivery_id, "timestamp": timestamp}
    return json.dumps(body).encode()


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def build_headers(*, secret: str, body: bytes, event: str, delivery_id: str, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-MiniRAG-Signature": sign(secret, body),
        "X-MiniRAG-Event": event,
        "X-MiniRAG-Delivery": delivery_id,
        "X-MiniRAG-Timestamp": str(timestamp),
    }


@dataclass(frozen=True)
class AttemptResult:
    success: bool
    status_code: int | None
    duration_ms: int
    error: str  # sanitized; never the response body
    retryable: bool
    retry_after: int | None = None  # seconds, from a Retry-After header on 429/503


def backoff_seconds(attempt: int, *, retry_after: int | None = None, jitter: bool = True) -> int:
    """Delay before the attempt after `attempt` (1-based)."""
    delay = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
    if jitter:
        delay += int(delay * BACKOFF_JITTER * random.random())
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, BACKOFF_MAX_SECONDS)


def _pinned_target(url: str) -> tuple[str, str, str]:
    """Check the URL with the SSRF guard and return (url with the checked IP, Host header, SNI host).

    Connecting to the address that was checked (not resolving again) closes the DNS-rebinding gap between
    the check and the connection.
    """
    addresses = resolve_and_check(url)
    parts = urlsplit(url)
    address = ipaddress.ip_address(addresses[0])
    ip_host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{ip_host}:{parts.port}" if parts.port else ip_host
    # netloc as written (credentials are refused by the guard): host, [v6] brackets and explicit port.
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), parts.netloc, parts.hostname or ""


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return min(int(value), BACKOFF_MAX_SECONDS)
    return None


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float | None = None) -> AttemptResult:
    """POST once. Never raises for a network or policy problem; classifies the outcome instead.

    Retryable: connection errors, timeouts, 5xx and 429. Not retryable: other 4xx, 3xx (redirects are not
    followed: they could point anywhere), and URLs the network policy refuses.
    """
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        target, host_header, sni_host = _pinned_target(url)
    except UnsafeURLError:
        return AttemptResult(False, None, elapsed(), "URL refused by the outbound network policy", retryable=False)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.post(
                target,
                content=body,
                headers={**headers, "Host": host_header},
                extensions={"sni_hostname": sni_host},
            )
    except httpx.TimeoutException:
        return AttemptResult(False, None, elapsed(), "timed out", retryable=True)
    except httpx.HTTPError as error:
        return AttemptResult(False, None, elapsed(), f"connection failed ({type(error).__name__})", retryable=True)
    status = response.status_code
    if 200 <= status < 300:
        return AttemptResult(True, status, elapsed(), "", retryable=False)
    retryable = status >= 500 or status == 429
    retry_after = _retry_after(response) if status in (429, 503) else None
    return AttemptResult(False, status, elapsed(), f"HTTP {status}", retryable=retryable, retry_after=retry_after)
