"""A synthetic Zipfian corpus loaded straight into a tenant's knowledge index (COPY), for retrieval at scale.

Ingesting 100k–1M chunks through the pipeline would take hours; this writes what the pipeline writes — source,
document and chunk rows, BM25 postings (`sources_posting`) and, optionally, pgvector embeddings
(`sources_chunkvector`) — with PostgreSQL's COPY, in the current tenant's schema (call it inside
`tenant_context`).

Text: a 50,000-word synthetic vocabulary drawn with a Zipf–Mandelbrot distribution (p(rank) ∝ 1/(rank+2.7)),
150–300 content words per chunk, mixed with English stop words (which the lexical analyser drops) and
sentence ends. So, as in real text, the most common terms are in nearly every chunk (rank 1: ~97 % of
chunks, rank 10: ~60 %, rank 100: ~10 %) and have posting lists as long as the corpus.

Postings are exactly what `sources.pipeline.lexical.term_frequencies` computes for the chunk text (every
vocabulary word is its own lexical term; `check_postings` verifies it on a sample).
"""

import random
import struct
import time
import uuid

import numpy as np

SYLLABLES = (
    "ka lo mi nu re sa ti vo pe da fi gu ha je ko lu ma ne pi ro su ta ve wi xo yu ze ba ce do fe go hi jo ku"
).split()
STOPWORDS = "the of and to in a is that for it as with was on by".split()
VOCABULARY_SIZE = 50_000
ZIPF_OFFSET = 2.7
WORDS_PER_CHUNK = (150, 300)  # content words; stop words come on top
STOPWORD_SHARE = 0.3  # of all tokens, as in English prose
SENTENCE_WORDS = 14

PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
PGCOPY_TRAILER = struct.pack(">h", -1)


class Corpus:
    def __init__(self, seed: int = 1, size: int = VOCABULARY_SIZE):
        from sources.pipeline import lexical

        rng = random.Random(seed)
        words: list[str] = []
        seen: set[str] = set()
        while len(words) < size:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            # Keep words that are their own lexical term (no stop word, unchanged by stemming).
            if word in seen or lexical.analyze(word) != [word]:
                continue
            seen.add(word)
            words.append(word)
        self.words = words
        self.size = size
        self.term_ids = np.array([lexical.term_id(word) for word in words], dtype=np.int64)
        ranks = np.arange(1, size + 1, dtype=np.float64)
        weights = 1.0 / (ranks + ZIPF_OFFSET)
        self.cdf = np.cumsum(weights / weights.sum())
        self.cdf[-1] = 1.0
        # Token strings: [0, size) content words, [size, 2 size) the same with a sentence end, then stop words.
        self.tokens = np.array(words + [word + "." for word in words] + STOPWORDS, dtype=object)

    def rank_of(self, word: str) -> int:
        return self.words.index(word) + 1

    def sample(self, count: int, rng: np.random.Generator):
        """`count` chunks: (texts, postings (chunk index, term id, tf) arrays, lengths)."""
        lengths = rng.integers(WORDS_PER_CHUNK[0], WORDS_PER_CHUNK[1] + 1, size=count)
        total = int(lengths.sum())
        content = np.searchsorted(self.cdf, rng.random(total), side="right").astype(np.int64)
        owner = np.repeat(np.arange(count, dtype=np.int64), lengths)
        # Postings: distinct (chunk, word) pairs with their counts.
        keys, tf = np.unique(owner * self.size + content, return_counts=True)
        posting_chunk = keys // self.size
        posting_term = self.term_ids[keys % self.size]
        # Text: content words with stop words mixed in and a sentence end every ~14 words.
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        position = np.arange(total) - np.repeat(starts, lengths)
        shown = content + np.where((position % SENTENCE_WORDS) == SENTENCE_WORDS - 1, self.size, 0)
        stop_mask = rng.random(total) < STOPWORD_SHARE / (1 - STOPWORD_SHARE)
        stop_positions = np.nonzero(stop_mask)[0]
        stop_tokens = 2 * self.size + rng.integers(0, len(STOPWORDS), size=len(stop_positions))
        sequence = np.insert(shown, stop_positions, stop_tokens)  # a stop word lands before its content word
        stops_before = np.concatenate(([0], np.cumsum(stop_mask)))
        ends = starts + lengths
        words = self.tokens[sequence]
        texts = []
        for lo, hi in zip(starts + stops_before[starts], ends + stops_before[ends], strict=True):
            text = " ".join(words[lo:hi])
            texts.append(text[0].upper() + text[1:])
        return texts, (posting_chunk, posting_term, tf), lengths

    def questions(self, count: int, seed: int = 5) -> list[str]:
        """5–10 word questions: two common words (rank ≤ 50), two or three mid-frequency words (rank 50–2,000),
        one or two rarer ones (rank 2,000–20,000), with the usual question words (stop words)."""
        rng = random.Random(seed)
        starts = ["What is the", "How does the", "Why is", "Which", "When does the", "Where is the"]
        result = []
        for _ in range(count):
            picked = (
                [self.words[rng.randrange(0, 50)] for _ in range(2)]
                + [self.words[rng.randrange(50, 2000)] for _ in range(rng.randint(2, 3))]
                + [self.words[rng.randrange(2000, 20000)] for _ in range(rng.randint(1, 2))]
            )
            rng.shuffle(picked)
            result.append(f"{rng.choice(starts)} {' '.join(picked[:3])} of {' '.join(picked[3:])}?")
        return result


def _uuid_bytes(rng: np.random.Generator, count: int) -> np.ndarray:
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw


def _posting_copy_bytes(chunk_ids: np.ndarray, postings, lengths, bot_id: uuid.UUID) -> bytes:
    """Binary COPY data for sources_posting (chunk_id uuid, term int4, bot_profile_id uuid, tf int2, length int2)."""
    posting_chunk, posting_term, tf = postings
    dtype = np.dtype([
        ("n", ">i2"), ("l1", ">i4"), ("chunk", "S16"), ("l2", ">i4"), ("term", ">i4"), ("l3", ">i4"),
        ("bot", "S16"), ("l4", ">i4"), ("tf", ">i2"), ("l5", ">i4"), ("length", ">i2"),
    ])  # fmt: skip
    rows = np.empty(len(posting_term), dtype=dtype)
    rows["n"] = 5
    rows["l1"], rows["l2"], rows["l3"], rows["l4"], rows["l5"] = 16, 4, 16, 2, 2
    rows["chunk"] = chunk_ids[posting_chunk].view("S16").ravel()
    rows["term"] = posting_term
    rows["bot"] = bot_id.bytes
    rows["tf"] = np.minimum(tf, 32767)
    rows["length"] = np.minimum(lengths[posting_chunk], 32767)
    return PGCOPY_HEADER + rows.tobytes() + PGCOPY_TRAILER


def _vector_copy_bytes(chunk_ids: np.ndarray, bot_id: uuid.UUID, space_id: int, vectors: np.ndarray) -> bytes:
    """Binary COPY data for sources_chunkvector (chunk_id, bot_profile_id, space_id int2, embedding vector)."""
    dim = vectors.shape[1]
    dtype = np.dtype([
        ("n", ">i2"), ("l1", ">i4"), ("chunk", "S16"), ("l2", ">i4"), ("bot", "S16"), ("l3", ">i4"),
        ("space", ">i2"), ("l4", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("values", ">f4", (dim,)),
    ])  # fmt: skip
    rows = np.empty(len(chunk_ids), dtype=dtype)
    rows["n"] = 4
    rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 16, 16, 2, 4 + 4 * dim
    rows["chunk"] = chunk_ids.view("S16").ravel()
    rows["bot"] = bot_id.bytes
    rows["space"] = space_id
    rows["dim"] = dim
    rows["unused"] = 0
    rows["values"] = vectors
    return PGCOPY_HEADER + rows.tobytes() + PGCOPY_TRAILER


def _random_unit_vectors(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _drop_posting_indexes(cursor) -> list[str]:
    """Drop the postings table's primary key and indexes (whatever the schema version defines); return the
    statements that recreate them."""
    recreate = []
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'sources_posting'::regclass AND contype IN ('p', 'u')"
    )
    for name, definition in cursor.fetchall():
        cursor.execute(f'ALTER TABLE sources_posting DROP CONSTRAINT "{name}"')
        recreate.append(f'ALTER TABLE sources_posting ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'sources_posting'::regclass"
    )
    for name, definition in cursor.fetchall():
        cursor.execute(f'DROP INDEX "{name}"')
        recreate.append(definition)
    return recreate


def load(
    bot,
    chunks: int,
    corpus: Corpus,
    *,
    seed: int = 1,
    chunks_per_source: tuple[int, int] = (10, 90),
    dense_model: str | None = None,
    dense_dim: int = 384,
    rebuild_indexes: bool | None = None,
    batch: int = 20_000,
    log=print,
) -> dict:
    """Add `chunks` ready chunks (in sources of 10–90 chunks) to `bot` in the current tenant schema.

    With `dense_model`, every chunk also gets a random unit vector of `dense_dim` dimensions in that embedding
    space, and the space's HNSW index is built after the load. `rebuild_indexes` (default: for ≥ 50k chunks)
    drops the postings indexes during the load and rebuilds them after (much faster than maintaining them).
    Ends with VACUUM ANALYZE of the index tables, as autovacuum would after a large insert."""
    from django.db import connection, transaction
    from django.utils import timezone

    from sources.index import DenseSpace, get_index
    from sources.index import schema as index_schema
    from sources.models import Document, IngestStage, Source, SourceStatus

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    if rebuild_indexes is None:
        rebuild_indexes = chunks >= 50_000
    bot_id = uuid.UUID(str(bot.pk))
    # Sources of a random number of chunks.
    sizes = []
    remaining = chunks
    while remaining > 0:
        size = min(remaining, int(rng.integers(chunks_per_source[0], chunks_per_source[1] + 1)))
        sizes.append(size)
        remaining -= size
    now = timezone.now()
    space_id = None
    stats = {"chunks": chunks, "sources": len(sizes), "postings": 0}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")  # no per-row FK triggers during COPY
            recreate = _drop_posting_indexes(cursor) if rebuild_indexes else []
            if dense_model:
                if not index_schema.ensure_vector_table(cursor):
                    raise SystemExit("this PostgreSQL has no pgvector")
                cursor.execute(
                    "INSERT INTO sources_embeddingspace (model, dimension, created_at) VALUES (%s, %s, now()) "
                    "ON CONFLICT (model, dimension) DO NOTHING",
                    [dense_model, dense_dim],
                )
                cursor.execute(
                    "SELECT id FROM sources_embeddingspace WHERE model = %s AND dimension = %s",
                    [dense_model, dense_dim],
                )
                space_id = cursor.fetchone()[0]
        done = 0
        source_index = 0
        while source_index < len(sizes):
            # Whole sources per batch (about `batch` chunks).
            batch_sizes = [sizes[source_index]]
            source_index += 1
            while source_index < len(sizes) and sum(batch_sizes) + sizes[source_index] <= batch:
                batch_sizes.append(sizes[source_index])
                source_index += 1
            count = sum(batch_sizes)
            texts, postings, lengths = corpus.sample(count, rng)
            chunk_ids = _uuid_bytes(rng, count)
            sources, documents = [], []
            owner = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
            order = np.arange(count) - np.repeat(np.concatenate(([0], np.cumsum(batch_sizes)[:-1])), batch_sizes)
            for position, size in enumerate(batch_sizes):
                source = Source(
                    bot_profile_id=bot.pk,
                    name=f"Synthetic document {done + position}",
                    source_type="text",
                    status=SourceStatus.READY,
                    stage=IngestStage.DONE,
                    progress=100,
                    content="(synthetic, loaded by bench/_corpus.py)",
                    document_count=1,
                    chunk_count=size,
                    index_signature="bench",
                    created_at=now,
                )
                document = Document(
                    source=source,
                    title=source.name,
                    version=uuid.uuid4().hex,
                    content_hash=uuid.uuid4().hex,
                    chunk_count=size,
                    created_at=now,
                )
                source.current_document_id = document.pk  # FK checks are off (and deferred) in this load
                sources.append(source)
                documents.append(document)
            offsets = np.concatenate(([0], np.cumsum(batch_sizes)))
            for position, document in enumerate(documents):
                lo, hi = offsets[position], offsets[position + 1]
                document.indexed_chunks = int(hi - lo)
                document.lexical_terms = int(lengths[lo:hi].sum())
                document.char_count = sum(len(texts[i]) for i in range(lo, hi))
            Source.objects.bulk_create(sources)
            Document.objects.bulk_create(documents)
            with connection.cursor() as cursor:
                raw = cursor.cursor
                with raw.copy(
                    'COPY sources_chunk (id, document_id, source_id, point_id, "order", content, char_start, '
                    "char_end, token_count, page, section) FROM STDIN"
                ) as copy:
                    point_ids = _uuid_bytes(rng, count)
                    lines = []
                    for index in range(count):
                        source_position = owner[index]
                        text = texts[index]
                        lines.append(
                            f"{uuid.UUID(bytes=chunk_ids[index].tobytes())}\t{documents[source_position].pk}\t"
                            f"{sources[source_position].pk}\t{uuid.UUID(bytes=point_ids[index].tobytes())}\t"
                            f"{order[index]}\t{text}\t0\t{len(text)}\t{int(len(text) / 4)}\t\\N\t\n"
                        )
                    copy.write("".join(lines))
                with raw.copy(
                    "COPY sources_posting (chunk_id, term, bot_profile_id, tf, length) FROM STDIN (FORMAT binary)"
                ) as copy:
                    copy.write(_posting_copy_bytes(chunk_ids, postings, lengths, bot_id))
                stats["postings"] += len(postings[1])
                if space_id is not None:
                    columns = "chunk_id, bot_profile_id, space_id, embedding"
                    with raw.copy(f"COPY sources_chunkvector ({columns}) FROM STDIN (FORMAT binary)") as copy:
                        copy.write(
                            _vector_copy_bytes(chunk_ids, bot_id, space_id, _random_unit_vectors(rng, count, dense_dim))
                        )
            done += count
            elapsed = time.perf_counter() - started
            log(f"    … {done:,}/{chunks:,} chunks, {stats['postings']:,} postings ({elapsed:.0f}s)")
        if rebuild_indexes:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
                for statement in recreate:
                    cursor.execute(statement)
            log(f"    … postings indexes rebuilt ({time.perf_counter() - started:.0f}s)")
    stats["load_seconds"] = time.perf_counter() - started
    if dense_model:
        build = time.perf_counter()
        get_index().prepare(DenseSpace(dense_model, dense_dim))  # builds the space's HNSW index
        stats["hnsw_seconds"] = time.perf_counter() - build
        log(f"    … HNSW index built in {stats['hnsw_seconds']:.0f}s")
    vacuum = time.perf_counter()
    with connection.cursor() as cursor:
        tables = "sources_posting, sources_chunk, sources_document, sources_source"
        if dense_model:
            tables += ", sources_chunkvector"
        cursor.execute(f"VACUUM (ANALYZE) {tables}")
    stats["vacuum_seconds"] = time.perf_counter() - vacuum
    stats["seconds"] = time.perf_counter() - started
    return stats


def check_postings(bot, sample: int = 20) -> None:
    """The stored postings of a few chunks equal what the real lexical analyser computes from their text."""
    from django.db import connection

    from sources.pipeline import lexical

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, c.content FROM sources_chunk c JOIN sources_source s ON s.id = c.source_id "
            "WHERE s.bot_profile_id = %s ORDER BY random() LIMIT %s",
            [str(bot.pk), sample],
        )
        for chunk_id, content in cursor.fetchall():
            terms, expected_length = lexical.term_frequencies(content)
            cursor.execute("SELECT term, tf, length FROM sources_posting WHERE chunk_id = %s", [chunk_id])
            rows = cursor.fetchall()
            assert {term: tf for term, tf, _ in rows} == terms, f"postings of chunk {chunk_id} differ from the analyser"
            assert {length for _, _, length in rows} == {expected_length}, (chunk_id, expected_length)
