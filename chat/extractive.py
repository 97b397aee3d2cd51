"""Zero-key answers: the best retrieved passages, cited, without any LLM (bot model `extractive`).

From each of the best passages the sentences sharing the most words with the question are quoted (in their
original order) and cited with the passage's number, so the reply reads like a short sourced summary.
"""

import re
from collections.abc import Sequence
from typing import Any

MAX_PASSAGES = 3
SENTENCES_PER_PASSAGE = 2
MAX_EXCERPT_CHARS = 400
RELATIVE_SCORE_FLOOR = 0.35
NOTHING_FOUND = (
    "I could not find anything about that in the knowledge base. Try rephrasing the question, or add a source "
    "that covers it."
)
INTRO = "Here is what the knowledge base says:"

_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i in is it its of on or that the this to was what when "
    "where which who why will with you your".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n{2,}")


def _terms(text: str) -> set[str]:
    return {word for word in re.findall(r"\w+", text.lower()) if word not in _STOPWORDS and len(word) > 1}


def _excerpt(content: str, query_terms: set[str]) -> tuple[str, int]:
    """(excerpt, overlap of its best sentence with the question). A second sentence is quoted only when it
    is nearly as relevant as the best one; without any overlap the passage's opening is used."""
    sentences = [s.strip() for s in _SENTENCE_END.split(content) if s and s.strip()]
    if not sentences:
        return "", 0
    overlaps = [len(_terms(sentence) & query_terms) for sentence in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (overlaps[i], -i), reverse=True)
    best = overlaps[ranked[0]]
    if best == 0:
        chosen = list(range(min(SENTENCES_PER_PASSAGE, len(sentences))))
    else:
        chosen = [i for i in ranked[:SENTENCES_PER_PASSAGE] if overlaps[i] * 2 > best]
    excerpt = " ".join(" ".join(sentences[i].split()) for i in sorted(chosen))
    if len(excerpt) > MAX_EXCERPT_CHARS:
        excerpt = excerpt[: MAX_EXCERPT_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return excerpt, best


def extractive_answer(*, query: str, chunks: Sequence[Any]) -> str:
    """A short reply quoting the best passages with [n] citations (n = the passage's position in `chunks`).

    The best passage is always quoted; the next ones only when they share words with the question and score
    at least RELATIVE_SCORE_FLOOR of the best passage's score.
    """
    if not chunks:
        return NOTHING_FOUND
    query_terms = _terms(query)
    top_score = float(getattr(chunks[0], "score", 0) or 0)
    lines = [INTRO]
    for number, chunk in enumerate(chunks[:MAX_PASSAGES], 1):
        excerpt, overlap = _excerpt(chunk.content or "", query_terms)
        if number > 1:
            score = float(getattr(chunk, "score", 0) or 0)
            if overlap == 0 or (top_score > 0 and score < RELATIVE_SCORE_FLOOR * top_score):
                continue
        if excerpt:
            lines.append(f"- {excerpt} [{number}]")
    if len(lines) == 1:
        return NOTHING_FOUND
    return "\n".join(lines)


def answer_pieces(answer: str) -> list[str]:
    """Split a finished answer into word-sized pieces for `delta` events."""
    return re.findall(r"\S+\s*|\s+", answer)
