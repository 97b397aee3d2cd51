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


def _excerpt(content: str, query_terms: set[str]) -> str:
    sentences = [s.strip() for s in _SENTENCE_END.split(content) if s and s.strip()]
    if not sentences:
        return ""
    scored = [(len(_terms(sentence) & query_terms), -index) for index, sentence in enumerate(sentences)]
    best = sorted(range(len(sentences)), key=lambda i: scored[i], reverse=True)[:SENTENCES_PER_PASSAGE]
    if all(scored[i][0] == 0 for i in best):
        best = list(range(min(SENTENCES_PER_PASSAGE, len(sentences))))
    excerpt = " ".join(" ".join(sentences[i].split()) for i in sorted(best))
    if len(excerpt) > MAX_EXCERPT_CHARS:
        excerpt = excerpt[: MAX_EXCERPT_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return excerpt


def extractive_answer(*, query: str, chunks: Sequence[Any]) -> str:
    """A short reply quoting the best passages with [n] citations (n = the passage's position in `chunks`)."""
    if not chunks:
        return NOTHING_FOUND
    query_terms = _terms(query)
    lines = [INTRO]
    for number, chunk in enumerate(chunks[:MAX_PASSAGES], 1):
        excerpt = _excerpt(chunk.content or "", query_terms)
        if excerpt:
            lines.append(f"- {excerpt} [{number}]")
    if len(lines) == 1:
        return NOTHING_FOUND
    return "\n".join(lines)


def answer_pieces(answer: str) -> list[str]:
    """Split a finished answer into word-sized pieces for `delta` events."""
    return re.findall(r"\S+\s*|\s+", answer)
