"""Qdrant access. The only module (with embeddings.py and llm.py) that imports qdrant_client.

`QDRANT_URL` selects a server; otherwise the embedded local mode at `QDRANT_PATH` (":memory:" in tests).
Local mode admits one process only, so the client is a process-wide singleton.
"""

import threading

from django.conf import settings
from qdrant_client import QdrantClient

_client: QdrantClient | None = None
_client_lock = threading.Lock()


def get_client() -> QdrantClient:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = _build_client()
    return _client


def _build_client() -> QdrantClient:
    if settings.QDRANT_URL:
        return QdrantClient(url=settings.QDRANT_URL, api_key=settings.QDRANT_API_KEY or None, timeout=30)
    if settings.QDRANT_PATH == ":memory:":
        return QdrantClient(location=":memory:")
    from pathlib import Path

    Path(settings.QDRANT_PATH).mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=settings.QDRANT_PATH)


def reset_client() -> None:
    """Drop the singleton (tests, and after fork in the worker)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None
