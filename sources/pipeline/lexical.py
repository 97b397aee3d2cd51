"""Sparse lexical vectors, computed locally with no model, so retrieval works offline with zero keys.

Documents get BM25-style saturated term frequencies; queries get weight 1 per term. Qdrant multiplies by
its IDF (the collection uses `Modifier.IDF`), which completes BM25 scoring. Terms are hashed to 31-bit ids.
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


def _merge(weights: dict[int, float]) -> tuple[list[int], list[float]]:
    indices = sorted(weights)
    return indices, [weights[index] for index in indices]


def document_vector(text: str) -> tuple[list[int], list[float]]:
    words = terms(text)
    counts = Counter(words)
    length_norm = 1 - B + B * (len(words) / AVERAGE_DOCUMENT_TERMS)
    weights: dict[int, float] = {}
    for term, count in counts.items():
        index = term_id(term)
        weights[index] = weights.get(index, 0.0) + count * (K1 + 1) / (count + K1 * length_norm)
    return _merge(weights)


def query_vector(text: str) -> tuple[list[int], list[float]]:
    return _merge({term_id(term): 1.0 for term in set(terms(text))})
