"""Qdrant access for the `qdrant` knowledge index. The only module that imports qdrant_client.

`QDRANT_URL` selects the server. qdrant-client's in-memory local mode (`QDRANT_IN_MEMORY`) is only the test
double of the server: it is not thread-safe, so every call on it is serialised by a lock.

Multitenancy follows Qdrant's guidance: `tenant_id` is a keyword payload index with `is_tenant=True`, and
dense collections build per-tenant HNSW graphs only (`m=0`, `payload_m=16`). Payloads are lean (tenant, bot,
source, version): chunk text and names live in PostgreSQL.

Layout: one collection per embedding space. `minirag_sparse` holds points with only the lexical (sparse,
BM25-style with Qdrant's IDF modifier) vector; `minirag_dense_<model>_<dim>` holds points with a named dense
vector `dense` (cosine) and the same lexical vector, so bots with different embedding models coexist.
Every point carries `tenant_id`; `tenant_filter` is the one function that builds the tenant/bot/source
filter, and every search and delete goes through it.

The IDF of the lexical vector is Qdrant's (`Modifier.IDF`), computed by the server over the whole collection,
so tenants sharing a collection share it. Qdrant 1.19 can narrow it to one tenant (the `idf.corpus` query
parameter); the pinned server and client (1.15) cannot, and no client-side workaround is exact.
"""

import hashlib
import re
import threading
import warnings
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from qdrant_client import QdrantClient, models

COLLECTION_PREFIX = "minirag_"
SPARSE_COLLECTION = f"{COLLECTION_PREFIX}sparse"
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "lexical"
PAYLOAD_INDEXES = ("tenant_id", "bot_profile_id", "source_id", "version")

_client: QdrantClient | None = None
_client_lock = threading.Lock()
_op_lock = threading.RLock()
_known_collections: set[str] = set()


class VectorStoreError(Exception):
    """Qdrant could not be reached or refused an operation (the message is safe to show)."""


class _LockedClient:
    """Wraps the local-mode client so each call runs under one process-wide lock."""

    def __init__(self, inner: QdrantClient):
        self._inner = inner

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def locked(*args, **kwargs):
            with _op_lock:
                return attribute(*args, **kwargs)

        return locked


def is_local_mode() -> bool:
    return not settings.QDRANT_URL


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
    if settings.QDRANT_IN_MEMORY:
        return _LockedClient(QdrantClient(location=":memory:"))  # type: ignore[return-value]
    raise VectorStoreError("The Qdrant index needs QDRANT_URL (the Qdrant server)")


def reset_client() -> None:
    """Drop the singleton (tests, and after fork in the worker)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None
        _known_collections.clear()


# --- Collections --------------------------------------------------------------------------------------------


def collection_name(*, embedding_model: str | None, dimension: int | None) -> str:
    """The collection of an embedding space: sparse-only, or one per (dense model, dimension)."""
    if not embedding_model or not dimension:
        return SPARSE_COLLECTION
    slug = re.sub(r"[^a-z0-9]+", "_", embedding_model.lower()).strip("_")[:60]
    digest = hashlib.sha256(embedding_model.encode()).hexdigest()[:8]
    return f"{COLLECTION_PREFIX}dense_{slug}_{digest}_{dimension}"


def _guard(operation: str):
    """Turn transport errors into VectorStoreError with a message that leaks nothing internal."""

    class _Guard:
        def __enter__(self):
            return self

        def __exit__(self, exc_type, exc, tb):
            if exc is None or isinstance(exc, VectorStoreError):
                return False
            if isinstance(exc, ValueError | KeyError | TypeError | AssertionError):
                return False  # programming errors stay visible
            raise VectorStoreError(f"Vector store unavailable during {operation} ({type(exc).__name__})") from exc

    return _Guard()


def ensure_collection(name: str, *, dimension: int | None) -> None:
    """Create the collection (and its payload indexes) if missing. Idempotent and cheap after the first call."""
    if name in _known_collections:
        return
    client = get_client()
    with _guard("collection setup"), _op_lock if is_local_mode() else nullcontext():
        if not client.collection_exists(name):
            vectors = (
                {DENSE_VECTOR: models.VectorParams(size=dimension, distance=models.Distance.COSINE)}
                if dimension
                else {}
            )
            try:
                client.create_collection(
                    name,
                    vectors_config=vectors,
                    sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                    # Per-tenant graphs only: every search filters by tenant_id, so a global graph is waste.
                    hnsw_config=models.HnswConfigDiff(m=0, payload_m=16) if dimension else None,
                )
            except Exception:  # lost a creation race with another process: fine if it exists now
                if not client.collection_exists(name):
                    raise
            if not is_local_mode():  # payload indexes are a no-op (with a warning) in local mode
                client.create_payload_index(
                    name,
                    "tenant_id",
                    field_schema=models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
                )
                for field in PAYLOAD_INDEXES[1:]:
                    client.create_payload_index(name, field, field_schema=models.PayloadSchemaType.KEYWORD)
    _known_collections.add(name)


def managed_collections() -> list[str]:
    client = get_client()
    with _guard("listing collections"):
        return [c.name for c in client.get_collections().collections if c.name.startswith(COLLECTION_PREFIX)]


# --- Filters ------------------------------------------------------------------------------------------------


def tenant_filter(
    *,
    tenant_id: str,
    bot_id: str | None = None,
    source_ids: Sequence[str] | None = None,
    exclude_source_ids: Sequence[str] | None = None,
    version: str | None = None,
    exclude_version: str | None = None,
) -> models.Filter:
    """The only place a Qdrant filter is built. The tenant condition is always present."""
    if not tenant_id:
        raise ValueError("tenant_id is required for every vector store filter")
    must: list[models.Condition] = [models.FieldCondition(key="tenant_id", match=models.MatchValue(value=tenant_id))]
    must_not: list[models.Condition] = []
    if bot_id:
        must.append(models.FieldCondition(key="bot_profile_id", match=models.MatchValue(value=bot_id)))
    if source_ids is not None:
        must.append(models.FieldCondition(key="source_id", match=models.MatchAny(any=list(source_ids))))
    if version:
        must.append(models.FieldCondition(key="version", match=models.MatchValue(value=version)))
    if exclude_source_ids:
        must_not.append(models.FieldCondition(key="source_id", match=models.MatchAny(any=list(exclude_source_ids))))
    if exclude_version:
        must_not.append(models.FieldCondition(key="version", match=models.MatchValue(value=exclude_version)))
    return models.Filter(must=must, must_not=must_not or None)


# --- Writes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointData:
    id: str
    sparse_indices: list[int]
    sparse_values: list[float]
    payload: dict[str, Any]
    dense: list[float] | None = None


def upsert_points(name: str, points: Iterable[PointData]) -> int:
    """Write points (same id → overwritten, so reruns never duplicate). Waits until they are searchable."""
    structs = []
    for point in points:
        vector: dict[str, Any] = {
            SPARSE_VECTOR: models.SparseVector(indices=point.sparse_indices, values=point.sparse_values)
        }
        if point.dense is not None:
            vector[DENSE_VECTOR] = point.dense
        structs.append(models.PointStruct(id=point.id, vector=vector, payload=point.payload))
    if not structs:
        return 0
    with _guard("indexing"):
        get_client().upsert(name, points=structs, wait=True)
    return len(structs)


def delete_points(
    *,
    tenant_id: str,
    source_ids: Sequence[str],
    version: str | None = None,
    exclude_version: str | None = None,
    collections: Sequence[str] | None = None,
) -> None:
    """Delete the sources' points in every managed collection (or the given ones).

    `version` limits the deletion to one indexed version; `exclude_version` keeps one.
    """
    if not source_ids:
        return
    selector = models.FilterSelector(
        filter=tenant_filter(
            tenant_id=tenant_id, source_ids=source_ids, version=version, exclude_version=exclude_version
        )
    )
    client = get_client()
    with _guard("deletion"):
        for name in collections if collections is not None else managed_collections():
            if client.collection_exists(name):
                client.delete(name, points_selector=selector, wait=True)


def count_points(name: str, *, tenant_id: str, source_ids: Sequence[str] | None = None) -> int:
    client = get_client()
    with _guard("counting"):
        if not client.collection_exists(name):
            return 0
        return client.count(name, count_filter=tenant_filter(tenant_id=tenant_id, source_ids=source_ids)).count


def point_ids(name: str, *, tenant_id: str, source_ids: Sequence[str] | None = None) -> list[str]:
    """All point ids of the sources (tests, diagnostics)."""
    client = get_client()
    ids: list[str] = []
    with _guard("scrolling"):
        if not client.collection_exists(name):
            return ids
        offset = None
        while True:
            records, offset = client.scroll(
                name,
                scroll_filter=tenant_filter(tenant_id=tenant_id, source_ids=source_ids),
                limit=1000,
                offset=offset,
                with_payload=False,
                with_vectors=False,
            )
            ids.extend(str(record.id) for record in records)
            if offset is None:
                return ids


def dense_vectors(name: str, ids: Sequence[str]) -> dict[str, list[float]]:
    """The dense vectors of these points (a rebuild reuses them)."""
    client = get_client()
    with _guard("reading vectors"):
        if not ids or not client.collection_exists(name):
            return {}
        records = client.retrieve(name, ids=list(ids), with_payload=False, with_vectors=[DENSE_VECTOR])
    return {
        str(r.id): list(r.vector[DENSE_VECTOR])
        for r in records
        if isinstance(r.vector, dict) and DENSE_VECTOR in r.vector
    }


# --- Search -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


def search(
    name: str,
    *,
    tenant_id: str,
    bot_id: str,
    sparse_indices: list[int],
    sparse_values: list[float],
    dense: list[float] | None,
    limit: int,
    candidates: int | None = None,
    exclude_source_ids: Sequence[str] | None = None,
    score_threshold: float | None = None,
    rrf_k: float = 60,
    sparse_weight: float = 1.0,
    dense_weight: float = 1.0,
) -> list[Hit]:
    """Hybrid search (dense + sparse fused with weighted RRF) when `dense` is given, sparse alone otherwise.

    Hybrid: each leg returns its `candidates` best points (one batch request), fused here as
    sparse_weight / (rrf_k + sparse rank) + dense_weight / (rrf_k + dense rank) — Qdrant's own RRF fusion
    (server 1.15) takes neither weights nor k. `score_threshold` applies to the dense cosine similarity in
    hybrid mode and to the lexical score in sparse mode. A missing collection (nothing ingested yet) gives [].
    """
    client = get_client()
    query_filter = tenant_filter(tenant_id=tenant_id, bot_id=bot_id, exclude_source_ids=exclude_source_ids)
    sparse = models.SparseVector(indices=sparse_indices, values=sparse_values)
    depth = max(candidates or limit * 4, limit)
    with _guard("search"):
        if not client.collection_exists(name):
            return []
        if dense is not None:
            requests = [
                models.QueryRequest(
                    query=dense, using=DENSE_VECTOR, filter=query_filter, limit=depth,
                    score_threshold=score_threshold, with_payload=True,
                ),
            ]  # fmt: skip
            if sparse_indices:
                requests.append(
                    models.QueryRequest(
                        query=sparse, using=SPARSE_VECTOR, filter=query_filter, limit=depth, with_payload=True
                    )
                )
            responses = client.query_batch_points(name, requests=requests)
            weights = [dense_weight, sparse_weight][: len(responses)]
            return fuse_rrf([response.points for response in responses], weights=weights, k=rrf_k, limit=limit)
        if not sparse_indices:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            response = client.query_points(
                name,
                query=sparse,
                using=SPARSE_VECTOR,
                query_filter=query_filter,
                limit=limit,
                score_threshold=score_threshold,
                with_payload=True,
            )
    return [Hit(id=str(point.id), score=float(point.score), payload=point.payload or {}) for point in response.points]


def fuse_rrf(rankings: Sequence[Sequence[Any]], *, weights: Sequence[float], k: float, limit: int) -> list[Hit]:
    """Weighted reciprocal rank fusion of ranked point lists (ranks from 1); ties broken by point id."""
    scores: dict[str, float] = {}
    payloads: dict[str, dict[str, Any]] = {}
    for points, weight in zip(rankings, weights, strict=True):
        for rank, point in enumerate(points, start=1):
            key = str(point.id)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            payloads.setdefault(key, point.payload or {})
    best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [Hit(id=key, score=score, payload=payloads[key]) for key, score in best]


def collections_for_model(embedding_model: str) -> list[str]:
    """Existing dense collections of `embedding_model` (any dimension)."""
    prefix = collection_name(embedding_model=embedding_model, dimension=1)[:-1]
    return sorted(name for name in managed_collections() if name.startswith(prefix))
