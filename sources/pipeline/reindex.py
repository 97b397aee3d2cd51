"""Rebuild index entries from the chunk rows (switching index backends, or recovering an index).

The chunk rows in PostgreSQL are the source of truth; the index is derived from them. Dense vectors are
reused from the index that holds them (no provider cost) and embedded again only where missing.
"""

from django.conf import settings
from django.db import transaction

from minirag.integrations import embeddings
from sources.index import Batch, ChunkEntry, DenseSpace, KnowledgeIndex, get_index
from sources.models import Chunk, Document, Source
from sources.pipeline import lexical
from sources.pipeline.ingest import embedding_config


def rebuild_source(source: Source, *, vectors_from: KnowledgeIndex | None = None) -> int:
    """Rewrite the index entries of the source's live version; returns the number of chunks indexed.

    The source's old entries go with the first batch; each batch commits its entries in one transaction, so
    during the rebuild the source is searchable batch by batch. Raises KnowledgeIndexError or EmbeddingError
    when the index or the provider fails (rerun the command: it starts the source over).
    """
    document = Document.objects.filter(pk=source.current_document_id).first()
    if document is None or not source.is_active:
        return 0
    index = get_index()
    bot = source.bot_profile
    config = embedding_config(bot)
    rows = list(
        Chunk.objects.filter(document=document)
        .order_by("order")
        .values_list("id", "point_id", "order", "content", "section")
    )
    size = max(1, settings.EMBEDDING_BATCH_SIZE)
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        vectors: dict[str, list[float]] = {}
        space = None
        if config is not None:
            keys = [(str(chunk_id), str(pid)) for chunk_id, pid, _, _, _ in batch]
            vectors = (vectors_from or index).stored_vectors(chunks=keys, model=config.model)
            missing = [(str(chunk_id), content) for chunk_id, _, _, content, _ in batch if str(chunk_id) not in vectors]
            if missing:
                embedded = embeddings.embed_batch(config, [content for _, content in missing])
                vectors.update(zip([chunk_id for chunk_id, _ in missing], embedded.vectors, strict=True))
            space = DenseSpace(config.model, len(next(iter(vectors.values()))))
            if start == 0:
                index.prepare(space)  # outside the transaction (may create an HNSW index)
        entries = []
        # The section (heading path) is indexed with the text, as ingestion does (sources/pipeline/ingest.py).
        for chunk_id, pid, order, content, section in batch:
            terms, length = lexical.term_frequencies(content, language=bot.language, section=section)
            entries.append(
                ChunkEntry(chunk_id=str(chunk_id), point_id=str(pid), order=order, terms=terms, length=length,
                           dense=vectors.get(str(chunk_id)))
            )  # fmt: skip
        with transaction.atomic():
            if start == 0:
                index.clear(source_ids=[str(source.pk)])
            index.write(
                Batch(bot_id=str(bot.pk), source_id=str(source.pk), document_id=str(document.pk),
                      version=document.version, entries=entries, space=space)
            )  # fmt: skip
    return len(rows)
