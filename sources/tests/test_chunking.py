"""Chunker properties (hypothesis): size limit, full coverage, bounded overlap, structure-aware cuts."""

import itertools
import re
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from minirag.tokenizer import count_tokens
from sources.pipeline.chunking import chunk_text

# Hypothesis' caches (e.g. its Unicode tables) go to a temp dir, not a `.hypothesis/` in the repository.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="minirag-hypothesis-"))

WORDS = st.sampled_from(
    ["alpha", "beta", "gamma", "delta", "naïve", "東京", "re-entry", "e.g.", "U.S.", "x", "1234", "🙂", "don't"]
)
SEPARATORS = st.sampled_from([" ", " ", " ", ", ", ". ", "! ", "\n", "\n\n", "\n\n# Heading ", "  ", "\t"])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), min_size=1, max_size=400).map(
    lambda pairs: "".join(word + separator for word, separator in pairs)
)


def _check(text: str, size: int, overlap: int) -> list:
    chunks = list(chunk_text(text, chunk_size=size, overlap=overlap))
    assert chunks
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for index, chunk in enumerate(chunks):
        assert chunk.order == index
        assert chunk.text == text[chunk.start : chunk.end] and chunk.text
        assert chunk.token_count == count_tokens(chunk.text) <= size
    for previous, following in itertools.pairwise(chunks):
        assert previous.start < following.start <= previous.end  # progress, and no gap: everything covered
        shared = text[following.start : previous.end]
        assert count_tokens(shared) <= min(overlap, size // 2)
        if shared:  # overlap starts at a word boundary
            assert following.start == 0 or text[following.start - 1].isspace()
    return chunks


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, size=st.integers(min_value=8, max_value=120), overlap=st.integers(min_value=0, max_value=40))
def test_chunks_respect_size_cover_everything_and_overlap_as_configured(text, size, overlap):
    _check(text, size, overlap)


@settings(max_examples=40, deadline=None, database=None)
@given(text=st.text(min_size=1, max_size=600), size=st.integers(min_value=4, max_value=64))
def test_arbitrary_unicode_never_breaks_the_invariants(text, size):
    _check(text, size, size // 4)


@settings(max_examples=40, deadline=None, database=None)
@given(text=TEXTS, size=st.integers(min_value=16, max_value=80))
def test_never_cuts_inside_a_word(text, size):
    chunks = _check(text, size, 0)
    for chunk in chunks[:-1]:
        # every cut is at whitespace, unless a single word is larger than the chunk (not in this alphabet)
        assert chunk.text[-1].isspace() or text[chunk.end].isspace() or text[chunk.end] == "#"


def test_prefers_paragraph_breaks_and_keeps_punctuation():
    paragraphs = [f"Paragraph {n} says something useful. It has two sentences!" for n in range(30)]
    text = "\n\n".join(paragraphs)
    chunks = list(chunk_text(text, chunk_size=64, overlap=0))
    assert len(chunks) > 1
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("\n\n")  # cut at a paragraph break, the break kept verbatim
    assert "".join(chunk.text for chunk in chunks) == text  # nothing lost, nothing reordered


def test_overlap_is_close_to_the_configured_size_for_prose():
    text = " ".join(f"word{n}" for n in range(3000))
    chunks = list(chunk_text(text, chunk_size=100, overlap=20))
    for previous, following in itertools.pairwise(chunks):
        shared = count_tokens(text[following.start : previous.end])
        assert 15 <= shared <= 20


def test_a_giant_word_is_hard_split_within_the_limit():
    text = "start " + "x" * 5000 + " end"
    chunks = _check(text, 50, 10)
    assert len(chunks) > 2


def test_pages_are_recorded():
    text = "Page one text.\n\nPage two text.\n\nPage three."
    starts = [(0, 1), (text.index("Page two"), 2), (text.index("Page three"), 3)]
    chunks = list(chunk_text(text, chunk_size=5, overlap=0, page_starts=starts))
    assert [chunk.page for chunk in chunks] == [1, 2, 3]
    assert re.match(r"Page two", chunks[1].text)
