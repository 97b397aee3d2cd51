"""Lexical analysis, computed locally with no model, so retrieval works offline with zero keys.

Terms are hashed to 31-bit ids. The PostgreSQL index stores raw term frequencies and lengths
(`term_frequencies`) and scores BM25 at query time with the bot's own statistics. The Qdrant backend stores
BM25-style saturated term frequencies (`saturated_weights`); queries get weight 1 per term, and Qdrant
multiplies by its IDF (the collection uses `Modifier.IDF`).
"""

import hashlib
import re
from collections import Counter

# Bump when tokenisation changes: it is part of every source's index signature, forcing a re-index.
LEXICAL_VERSION = "1"
K1 = 1.2
B = 0.75
AVERAGE_DOCUMENT_TERMS = 256.0
_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its me my no not of on or "
    "our she so than that the their them then there these they this to was we were what when which who will "
    "with you your".split()
)


def terms(text: str) -> list[str]:
    result = []
    for token in _TOKEN.findall(text.lower()):
        if token in _STOPWORDS or (len(token) < 2 and not token.isdigit()):
            continue
        if len(token) > 4 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]  # the lightest stemming: plural "s"
        result.append(token)
    return result


def term_id(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


def saturated_weights(counts: dict[int, int], length: int) -> dict[int, float]:
    """BM25's document-side factor per term (with the constant average length; Qdrant supplies the IDF)."""
    length_norm = 1 - B + B * (length / AVERAGE_DOCUMENT_TERMS)
    return {index: count * (K1 + 1) / (count + K1 * length_norm) for index, count in sorted(counts.items())}


def term_frequencies(text: str, *, language: str = "english") -> tuple[dict[int, int], int]:
    """({term id: occurrences}, number of terms): a chunk's postings and its BM25 length."""
    words = terms(text)
    counts: dict[int, int] = {}
    for term, count in Counter(words).items():
        index = term_id(term)
        counts[index] = counts.get(index, 0) + count
    return counts, len(words)


def query_terms(text: str, *, language: str = "english") -> list[int]:
    """The distinct term ids of a query, sorted."""
    return sorted({term_id(term) for term in terms(text)})
