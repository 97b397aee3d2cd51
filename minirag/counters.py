"""Counters shared by every process through the Django cache: rate-limit windows and quota counters.

With REDIS_URL set the cache is Redis (settings.CACHES), so every web process and worker counts toward the
same number; without it a process-local memory cache (development, tests that are not about it).

The cache is never allowed to take the API down: an unreachable cache raises CacheUnavailable, callers fail
open (a rate limit lets the request through, a quota reads its database truth instead), and for
UNAVAILABLE_BACKOFF_SECONDS after a failure no process waits on the cache again (one warning per outage).
"""

import logging
import time
from collections.abc import Callable

from django.core.cache import caches

logger = logging.getLogger("minirag.counters")

UNAVAILABLE_BACKOFF_SECONDS = 5.0
_unavailable_until = 0.0


class CacheUnavailable(Exception):
    """The shared cache did not answer; the caller decides how to fail open."""


def _cache():
    return caches["default"]


def _call(operation: Callable):
    global _unavailable_until
    if time.monotonic() < _unavailable_until:
        raise CacheUnavailable("cache unavailable (backing off)")
    try:
        return operation()
    except ValueError:
        raise
    except Exception as error:  # redis ConnectionError, TimeoutError, …: never an API error
        if time.monotonic() >= _unavailable_until:
            logger.warning("shared cache unavailable (%s); rate limits and quota counters fail open", error)
        _unavailable_until = time.monotonic() + UNAVAILABLE_BACKOFF_SECONDS
        raise CacheUnavailable(str(error)) from error


def incr(key: str, delta: int = 1, *, timeout: int) -> int:
    """Add `delta` to the counter `key` (created with `timeout` seconds to live) and return the new value.

    Atomic across processes: Redis INCR, or the memory cache's lock. Raises CacheUnavailable.
    """
    cache = _cache()
    try:
        return _call(lambda: cache.incr(key, delta))
    except ValueError:  # no such key yet: create it with its expiry (add is SET NX), or count on the winner's
        if _call(lambda: cache.add(key, delta, timeout)):
            return delta
        return _call(lambda: cache.incr(key, delta))


def incr_existing(key: str, delta: int) -> int | None:
    """Add `delta` only if the counter exists (it is seeded from the database when missing); never raises."""
    cache = _cache()
    try:
        return _call(lambda: cache.incr(key, delta))
    except (ValueError, CacheUnavailable):
        return None


def get_or_seed(key: str, seed: Callable[[], int], *, timeout: int) -> int:
    """The counter's value; when it is missing, `seed()` (the database's truth) is stored first.

    Raises CacheUnavailable; callers then use `seed()` directly.
    """
    cache = _cache()
    value = _call(lambda: cache.get(key))
    if value is None:
        value = seed()
        if not _call(lambda: cache.add(key, value, timeout)):
            value = _call(lambda: cache.get(key, value))
    return int(value)


def get_many(keys: list[str]) -> dict[str, int]:
    """Present counters among `keys` ({} when the cache is unavailable)."""
    cache = _cache()
    try:
        return {key: int(value) for key, value in _call(lambda: cache.get_many(keys)).items()}
    except CacheUnavailable:
        return {}


def add_once(key: str, *, timeout: int) -> bool:
    """True the first time `key` is claimed within `timeout` (SET NX); True as well when the cache is down."""
    cache = _cache()
    try:
        return bool(_call(lambda: cache.add(key, 1, timeout)))
    except CacheUnavailable:
        return True


def window_hit(name: str, *, period: int, now: float | None = None) -> tuple[int, float]:
    """Count one hit for `name` in the current fixed window of `period` seconds.

    Returns (hits in this window including this one, seconds until the window ends). Windows are aligned on
    the epoch, so every process agrees on them. Raises CacheUnavailable.
    """
    now = time.time() if now is None else now
    window = int(now // period)
    count = incr(f"rl:{name}:{period}:{window}", timeout=period + 5)
    return count, (window + 1) * period - now
