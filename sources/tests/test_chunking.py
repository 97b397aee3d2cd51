"""Chunker properties (hypothesis): size limit, full coverage, bounded overlap, structure-aware cuts, no chunk
starting mid-sentence, table rows kept whole with their header repeated, heading paths as sections."""

import bisect
import itertools
import re
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from minirag.tokenizer import count_tokens
from sources.pipeline.chunking import chunk_text, section_at

# Hypothesis' caches (e.g. its Unicode tables) go to a temp dir, not a `.hypothesis/` in the repository.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="minirag-hypothesis-"))

WORDS = st.sampled_from(
    ["alpha", "beta", "gamma", "delta", "naïve", "東京", "re-entry", "e.g.", "U.S.", "x", "1234", "🙂", "don't"]
)
SEPARATORS = st.sampled_from([" ", " ", " ", ", ", ". ", "! ", "\n", "\n\n", "\n\n# Heading ", "  ", "\t"])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), min_size=1, max_size=400).map(
    lambda pairs: "".join(word + separator for word, separator in pairs)
)
# Where a sentence, line or paragraph starts: after a sentence end or a line break and the blanks that follow.
SENTENCE_BOUNDARY = re.compile(r"\n\s*|[.!?…。！？][\"'”’)\]]*\s+")
SEPARATOR_ROW = re.compile(r"[ \t]*\|[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")


def _tables(text: str) -> list[tuple[int, int, int]]:
    """(start, end of the header block, end of the last row) of each Markdown table, read line by line."""
    lines, offset = [], 0
    for line in text.split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    tables, index = [], 0
    while index < len(lines) - 1:
        (start, line), (separator_start, separator) = lines[index], lines[index + 1]
        if line.lstrip(" \t").startswith("|") and SEPARATOR_ROW.fullmatch(separator):
            last = index + 2
            while last < len(lines) and lines[last][1].lstrip(" \t").startswith("|"):
                last += 1
            header_end = min(separator_start + len(separator) + 1, len(text))
            tables.append((start, header_end, lines[last - 1][0] + len(lines[last - 1][1])))
            index = last
        else:
            index += 1
    return tables


def _line_at(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start : len(text) if end == -1 else end + 1]


def _check(text: str, size: int, overlap: int, **options) -> list:
    chunks = list(chunk_text(text, chunk_size=size, overlap=overlap, **options))
    assert chunks
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for index, chunk in enumerate(chunks):
        assert chunk.order == index
        assert chunk.text == chunk.table_header + text[chunk.start : chunk.end] and text[chunk.start : chunk.end]
        assert chunk.token_count == count_tokens(chunk.text) <= size
    for previous, following in itertools.pairwise(chunks):
        assert previous.start < following.start <= previous.end  # progress, and no gap: everything covered
        assert count_tokens(text[following.start : previous.end]) <= min(overlap, size // 2)
    _check_sentence_starts(text, size, chunks)
    _check_tables(text, size, chunks)
    return chunks


def _check_sentence_starts(text: str, size: int, chunks: list) -> None:
    """Every chunk after the first starts where a sentence, line or paragraph starts, unless the sentence it
    starts in is longer than the chunk size on its own."""
    starts = sorted({0, len(text)} | {match.end() for match in SENTENCE_BOUNDARY.finditer(text)})
    for chunk in chunks[1:]:
        index = bisect.bisect_left(starts, chunk.start)
        if starts[index] == chunk.start:
            continue
        sentence = text[starts[index - 1] : starts[index]]
        assert count_tokens(sentence) > size, f"chunk {chunk.order} starts mid-sentence in {sentence!r}"


def _check_tables(text: str, size: int, chunks: list) -> None:
    for table_start, header_end, table_end in _tables(text):
        header = text[table_start:header_end]
        header = header if header.endswith("\n") else header + "\n"
        header_tokens = count_tokens(header)
        boundaries = [chunk.start for chunk in chunks[1:]] + [chunk.end for chunk in chunks[:-1]]
        for boundary in boundaries:
            if not table_start < boundary <= table_end:
                continue
            row = _line_at(text, boundary)
            at_row_start = not text[text.rfind("\n", 0, boundary) + 1 : boundary].strip()
            if boundary < header_end:  # never between the header row and its separator, nor inside them
                assert count_tokens(text[table_start:header_end]) > size, f"cut in the header of {row!r}"
            if not at_row_start:  # never inside a row, unless that row alone is larger than a chunk
                assert count_tokens(row) > size, f"cut inside the row {row!r}"
        for chunk in chunks[1:]:
            if header_end <= chunk.start <= table_end:  # a chunk that continues a table repeats its header
                first_row = _line_at(text, chunk.start)
                if header_tokens <= size // 2 and header_tokens + count_tokens(first_row) <= size:
                    assert chunk.table_header == header and chunk.text.startswith(header)


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


CELLS = st.sampled_from(["North", "42", "ext. 4400", "Call IT. Then wait", "naïve", "東京", "a, b", "", "x" * 30])
SENTENCES = st.lists(WORDS, min_size=1, max_size=30).map(lambda words: " ".join(words).capitalize() + ".")


@st.composite
def _table(draw) -> str:
    columns = draw(st.integers(min_value=1, max_value=4))
    header = "| " + " | ".join(draw(st.lists(CELLS, min_size=columns, max_size=columns))) + " |"
    separator = "|" + "|".join(["---"] * columns) + "|"
    rows = draw(st.lists(st.lists(CELLS, min_size=columns, max_size=columns), min_size=0, max_size=25))
    return "\n".join([header, separator, *("| " + " | ".join(row) + " |" for row in rows)])


BLOCKS = st.one_of(
    st.lists(SENTENCES, min_size=1, max_size=8).map(" ".join),  # a paragraph
    st.builds(
        lambda level, words: "#" * level + " " + " ".join(words),
        st.integers(1, 4),
        st.lists(WORDS, min_size=1, max_size=4),
    ),
    _table(),
    st.lists(SENTENCES, min_size=1, max_size=3).map("\n".join),  # lines
)
DOCUMENTS = st.lists(st.tuples(BLOCKS, st.sampled_from(["\n\n", "\n"])), min_size=1, max_size=25).map(
    lambda blocks: "".join(block + separator for block, separator in blocks).strip()
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=DOCUMENTS, size=st.integers(min_value=12, max_value=160), overlap=st.integers(min_value=0, max_value=60))
def test_structured_documents_keep_sentences_and_table_rows_whole(text, size, overlap):
    chunks = _check(text, size, overlap, title="Doc")
    new_starts = [0] + [previous.end for previous in chunks[:-1]]
    for chunk, new_start in zip(chunks[:-1], new_starts, strict=False):
        # A heading goes with the text under it, unless the chunk holds nothing else (but its overlap).
        lines = [line for line in text[max(chunk.start, new_start) : chunk.end].split("\n") if line.strip()]
        assert not lines[-1].startswith("#") or all(line.startswith("#") for line in lines)


def test_prefers_paragraph_breaks_and_keeps_punctuation():
    paragraphs = [f"Paragraph {n} says something useful. It has two sentences!" for n in range(30)]
    text = "\n\n".join(paragraphs)
    chunks = list(chunk_text(text, chunk_size=64, overlap=0))
    assert len(chunks) > 1
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("\n\n")  # cut at a paragraph break, the break kept verbatim
    assert "".join(chunk.text for chunk in chunks) == text  # nothing lost, nothing reordered


def test_overlap_starts_at_a_sentence_and_is_close_to_the_configured_size_for_prose():
    text = " ".join(f"Sentence number {n} is short." for n in range(600))  # 7 tokens a sentence
    chunks = _check(text, 100, 20)
    for previous, following in itertools.pairwise(chunks):
        assert text[following.start :].startswith("Sentence number")
        assert 20 - 7 <= count_tokens(text[following.start : previous.end]) <= 20


def test_a_cut_prefers_a_sentence_end_to_a_comma_in_the_second_half():
    sentence = "This short sentence ends here. "
    long_clause = "then a long clause, " + ", ".join(f"item {n}" for n in range(40)) + " and more. "
    text = sentence * 3 + long_clause * 4
    for chunk in _check(text, 60, 0)[:-1]:
        assert chunk.text.endswith(". ") or count_tokens(long_clause) > 60


def test_no_overlap_rather_than_a_mid_sentence_start():
    text = " ".join(f"word{n}" for n in range(600))  # one sentence, longer than any chunk: hard cuts only
    chunks = _check(text, 100, 20)
    for previous, following in itertools.pairwise(chunks):
        assert following.start == previous.end  # no sentence start to carry the overlap from


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


def test_a_long_table_repeats_its_header_in_every_chunk_and_cuts_between_rows():
    rows = [f"| Region {n} | {1000 + n} | Manager {n} |" for n in range(200)]
    text = "Sales by region.\n\n| Region | Sales | Manager |\n|---|---|---|\n" + "\n".join(rows) + "\n\nThe end."
    chunks = _check(text, 80, 16)
    assert len(chunks) > 5
    continued = [chunk for chunk in chunks if chunk.start > text.index("|---|")]
    assert continued
    for chunk in continued[:-1]:
        assert chunk.text.startswith("| Region | Sales | Manager |\n|---|---|---|\n| Region ")
        assert chunk.text.rstrip("\n").endswith("|")  # whole rows only
    assert sum(chunk.text.count("| Manager 7 |") for chunk in chunks) >= 1


def test_sections_follow_the_heading_path_and_the_title():
    text = (
        "# Employee handbook\n\nWelcome.\n\n## IT\n\nIntro to IT.\n\n### Lost devices\n\n"
        "Call extension 4400 if you lose your laptop.\n\n```\n# not a heading\n```\n\n## Travel\n\nBook early."
    )
    chunks = list(chunk_text(text, chunk_size=12, overlap=0, title="handbook.pdf"))
    by_text = {chunk.text.strip().split("\n")[0]: chunk.section for chunk in chunks}
    assert by_text["# Employee handbook"] == "Employee handbook"
    assert by_text["## IT"] == "Employee handbook › IT"
    assert by_text["Call extension 4400 if you lose your laptop."] == "Employee handbook › IT › Lost devices"
    assert by_text["## Travel"] == "Employee handbook › Travel"
    assert all("not a heading" not in chunk.section for chunk in chunks)


def test_the_source_name_is_the_title_without_an_opening_h1():
    chunks = list(chunk_text("Intro.\n\n## Setup\n\nRun it.", chunk_size=4, overlap=0, title="guide.md"))
    assert chunks[0].section == "guide.md"
    assert chunks[-1].section == "guide.md › Setup"


def test_the_section_of_a_sentence_inside_a_chunk_follows_the_headings_before_it():
    text = (
        "# Chatting with a bot\n\n## Asking a question\n\nSend a message.\n\n## Streaming answers\n\n"
        "Add stream true.\n\n### Events\n\nDeltas, then done.\n\n```\n# not a heading\n```\n\nAfter the code."
    )
    [chunk] = chunk_text(text, chunk_size=512, overlap=0, title="chat.md")
    assert chunk.section == "Chatting with a bot › Asking a question"  # the headings it opens with
    at = {quote: section_at(chunk.section, chunk.text, chunk.text.index(quote)) for quote in
          ("Send a message.", "Add stream true.", "Deltas, then done.", "After the code.")}  # fmt: skip
    assert at == {
        "Send a message.": "Chatting with a bot › Asking a question",
        "Add stream true.": "Chatting with a bot › Streaming answers",
        "Deltas, then done.": "Chatting with a bot › Streaming answers › Events",
        "After the code.": "Chatting with a bot › Streaming answers › Events",
    }
    # A chunk that starts under headings of earlier chunks: those stay as ancestors of the ones it holds.
    assert section_at("Guide › Setup", "the rest of setup.\n\n### Docker\n\nRun it.", 30) == "Guide › Setup › Docker"
