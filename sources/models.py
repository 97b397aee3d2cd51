"""Sources of knowledge, the documents extracted from them, and their chunks (tenant schema)."""

import uuid

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from pgvector.django import VectorField


class SourceType(models.TextChoices):
    TEXT = "text", "Text"
    UPLOAD = "upload", "Uploaded file"
    URL = "url", "Web page"


class SourceStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    ERROR = "error", "Error"


class IngestStage(models.TextChoices):
    QUEUED = "queued", "Queued"
    CRAWLING = "crawling", "Crawling"  # a crawl parent fetching its site (sources/crawl.py)
    EXTRACTING = "extracting", "Extracting"
    CHUNKING = "chunking", "Chunking"
    EMBEDDING = "embedding", "Embedding"
    INDEXING = "indexing", "Indexing"
    DONE = "done", "Done"


class RefreshSchedule(models.TextChoices):
    NONE = "none", "None"
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


def upload_path(instance: "Source", filename: str) -> str:
    # One folder per tenant schema and source, so files of different tenants never share a directory.
    return f"sources/{connection.schema_name}/{instance.id}/{filename}"


EXTERNAL_ID_CONSTRAINT = "source_bot_external_id_unique"


class Source(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot_profile = models.ForeignKey("bots.BotProfile", on_delete=models.CASCADE, related_name="sources")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=1000, blank=True, default="")
    source_type = models.CharField(max_length=20, choices=SourceType.choices)
    status = models.CharField(max_length=20, choices=SourceStatus.choices, default=SourceStatus.PENDING)
    stage = models.CharField(max_length=20, choices=IngestStage.choices, null=True, blank=True)  # noqa: DJ001 - nullable in the API
    progress = models.PositiveSmallIntegerField(default=0)
    config = models.JSONField(default=dict, blank=True)
    content = models.TextField(null=True, blank=True)  # noqa: DJ001 - nullable in the API
    file = models.FileField(upload_to=upload_path, max_length=500, null=True, blank=True)
    document_count = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    error_message = models.CharField(max_length=2000, null=True, blank=True)  # noqa: DJ001 - nullable in the API
    # The failure's real cause for operators (exception type and text, a provider's words, where it was raised),
    # with anything key-like masked. Shown on the console's source page; never serialized by the API, whose
    # `error_message` is the text safe for tenants. Cleared when a run starts or succeeds.
    error_detail = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    # The client's stable key for this source (a file's relative path, a URL, an id in another system): a create
    # or upload carrying a key an active source of the bot already has updates that source instead. Unique per
    # bot among active sources only, so a retired source frees its key.
    external_id = models.CharField(max_length=512, blank=True, default="")
    refresh_schedule = models.CharField(max_length=20, choices=RefreshSchedule.choices, null=True, blank=True)  # noqa: DJ001 - nullable in the API
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of an upload's stored file: a re-upload of the same bytes under the same external_id changes nothing.
    # For a crawled page (a crawl's child): of the body last fetched; a re-crawl that gets the same bytes skips it.
    file_sha256 = models.CharField(max_length=64, blank=True, default="")
    # SHA-256 of the last indexed extracted text; an unchanged re-extraction skips chunking and embedding.
    content_hash = models.CharField(max_length=64, blank=True, default="")
    # Embedding space + chunking parameters of the indexed version (a change forces a full re-index).
    index_signature = models.CharField(max_length=300, blank=True, default="")
    # The searchable version. Retrieval only returns chunks of this document.
    current_document = models.ForeignKey(
        "sources.Document", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Identifies the latest ingestion request; a task carrying an older token is superseded and does nothing.
    ingest_token = models.UUIDField(null=True, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # The running ingestion's lease: renewed by the worker while it runs; when it lapses the worker is
    # considered dead and the sweeper fails the source (and removes what the run left).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Vectors still to be removed from Qdrant after a delete/deactivation whose immediate purge failed.
    purge_pending = models.BooleanField(default=False)
    # A crawl parent's last crawl: what it fetched, skipped and retired, and why it stopped (sources/crawl.py).
    crawl_report = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["bot_profile", "is_active", "-created_at"], name="source_bot_active_idx"),
            models.Index(fields=["parent", "is_active"], name="source_parent_active_idx"),
            models.Index(
                fields=["processing_started_at"],
                name="source_processing_idx",
                condition=Q(status="processing"),
            ),
        ]
        constraints = [
            # Also the index that upserts and `manage.py ingest` look keys up by.
            models.UniqueConstraint(
                fields=["bot_profile", "external_id"],
                condition=Q(is_active=True) & ~Q(external_id=""),
                name=EXTERNAL_ID_CONSTRAINT,
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_crawl(self) -> bool:
        """A top-level URL source with `config.crawl`: ingesting it crawls its site into one child per page."""
        return (
            self.source_type == SourceType.URL
            and self.parent_id is None
            and isinstance((self.config or {}).get("crawl"), dict)
        )


class Document(models.Model):
    """One extracted version of a source. A re-ingest writes a new one, then removes the old one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=500, blank=True, default="")
    # content_hash + index signature: chunk and point ids derive from it, so a rerun reproduces them.
    version = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    char_count = models.PositiveBigIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    # Written batch by batch in the same transaction as the chunks' index entries: the bot's BM25 statistics
    # (number of indexed chunks, total lexical terms → average length) are sums over its documents.
    indexed_chunks = models.PositiveIntegerField(default=0)
    lexical_terms = models.PositiveBigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or str(self.id)


class Chunk(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="chunks")
    # Deterministic Qdrant point id (uuid5 of tenant + source + version + order); the public chunk id.
    point_id = models.UUIDField(db_index=True)
    order = models.PositiveIntegerField()
    content = models.TextField()
    char_start = models.PositiveBigIntegerField()
    char_end = models.PositiveBigIntegerField()
    token_count = models.PositiveIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)
    # Where the chunk sits: the document title and heading path ("Handbook › IT › Lost devices"); indexed with
    # the text and used in citation labels.
    section = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["document", "order"]
        constraints = [models.UniqueConstraint(fields=["document", "order"], name="chunk_document_order_unique")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.order}"


class EmbeddingSpace(models.Model):
    """One (embedding model, dimension) pair used by some bot of this tenant; several coexist.

    The PostgreSQL index keeps every space's vectors in one table (`ChunkVector`) with an HNSW index per space
    (a partial index on the vector cast to the space's dimension)."""

    id = models.SmallAutoField(primary_key=True)
    model = models.CharField(max_length=255)
    dimension = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "dimension"], name="embedding_space_unique")]

    def __str__(self) -> str:
        return f"{self.model} ({self.dimension})"


class Posting(models.Model):
    """One entry of the BM25 inverted index: `term` occurs `tf` times in a chunk of `length` terms.

    The table is created by raw SQL (sources.index.schema: covering search index, deduplicated chunk index,
    database-level ON DELETE CASCADE from the chunk), so deleting chunk rows removes their postings in the
    same transaction. The model (its key is ORM-only) exists for reads in tests and diagnostics."""

    pk = models.CompositePrimaryKey("chunk_id", "term")
    chunk = models.ForeignKey(Chunk, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    bot_profile_id = models.UUIDField()
    term = models.IntegerField()
    tf = models.SmallIntegerField()
    length = models.SmallIntegerField()

    class Meta:
        managed = False
        db_table = "sources_posting"

    def __str__(self) -> str:
        return f"{self.term}@{self.chunk_id}"


class ChunkVector(models.Model):
    """A chunk's dense embedding in one embedding space (pgvector; ON DELETE CASCADE from the chunk)."""

    chunk = models.OneToOneField(
        Chunk, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    bot_profile_id = models.UUIDField()
    space_id = models.SmallIntegerField()
    embedding = VectorField()

    class Meta:
        managed = False
        db_table = "sources_chunkvector"

    def __str__(self) -> str:
        return f"vector of {self.chunk_id}"


class RefreshState(models.Model):
    """Back-off bookkeeping for scheduled refresh (sources/refresh.py), one row per failing source.

    A table of its own rather than columns on Source: only failing sources have a row, and a success deletes it.
    `source_id` is a plain UUID, not a foreign key: a row for a deleted source is harmless and pruned by the
    refresh tick. The table keeps the name it had when the webhooks app held this model (no data was moved).
    """

    source_id = models.UUIDField(unique=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The scheduler leaves the source alone until then.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhooks_refreshstate"

    def __str__(self) -> str:
        return f"{self.source_id}: {self.consecutive_failures} failure(s)"
