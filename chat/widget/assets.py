"""widget.js as served: its bytes and a content hash that versions it (`/widget.<version>.js`, the ETag)."""

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

WIDGET_PATH = Path(__file__).with_name("widget.js")
VERSION_CHARS = 12


@dataclass(frozen=True)
class Asset:
    body: bytes
    version: str  # the first VERSION_CHARS hex digits of the body's SHA-256
    etag: str  # a strong ETag (quoted)


def widget_asset() -> Asset:
    """The current widget.js. Re-read when the file changes (a stat per request; the read itself is cached)."""
    return _load(WIDGET_PATH.stat().st_mtime_ns)


@lru_cache(maxsize=1)
def _load(mtime_ns: int) -> Asset:
    body = WIDGET_PATH.read_bytes()
    digest = hashlib.sha256(body).hexdigest()
    return Asset(body=body, version=digest[:VERSION_CHARS], etag=f'"{digest[:32]}"')
