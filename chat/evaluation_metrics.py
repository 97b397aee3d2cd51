"""Ranking and answer metrics over plain data (no database): what `chat.evaluation` and bench/cranfield.py share.

A ranking is a list of retrieved items, best first, each a set of the keys that name it (a source's id,
its name, the ids of its retrieved chunks…). Relevance is a dict key → grade (1 for binary labels). An item's
gain is the best grade among the relevant keys it carries that no earlier item matched, so one relevant
source found twice counts once. nDCG uses linear gains (grade / log2(rank + 1)), as trec_eval and BEIR do.
"""

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_NOT_ALPHANUMERIC = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class RankingScores:
    """One question's retrieval scores; `ranks` are the 1-based ranks of relevant items (with their grades)."""

    recall_at_5: float
    recall_at_10: float
    reciprocal_rank_at_10: float
    ndcg_at_10: float
    ranks: list[int] = field(default_factory=list)
    grades: list[float] = field(default_factory=list)


def gains(ranking: Sequence[Iterable[str]], relevant: Mapping[str, float]) -> list[float]:
    """The gain of each ranked item: the best grade of the relevant keys it is the first to match, else 0."""
    matched: set[str] = set()
    result = []
    for keys in ranking:
        fresh = [key for key in keys if key in relevant and key not in matched]
        matched.update(fresh)
        result.append(max((relevant[key] for key in fresh), default=0.0))
    return result


def recall_at(item_gains: Sequence[float], relevant: Mapping[str, float], k: int, *, found: int | None = None) -> float:
    """Share of the relevant items found in the top k (`found` = how many keys the top k matched)."""
    if not relevant:
        return 0.0
    hits = found if found is not None else sum(1 for gain in item_gains[:k] if gain > 0)
    return min(1.0, hits / len(relevant))


def reciprocal_rank_at(item_gains: Sequence[float], k: int) -> float:
    for rank, gain in enumerate(item_gains[:k], 1):
        if gain > 0:
            return 1.0 / rank
    return 0.0


def dcg(item_gains: Sequence[float], k: int) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(item_gains[:k], 1))


def ndcg_at(item_gains: Sequence[float], relevant: Mapping[str, float], k: int) -> float:
    ideal = dcg(sorted((grade for grade in relevant.values() if grade > 0), reverse=True), k)
    return dcg(item_gains, k) / ideal if ideal > 0 else 0.0


def _matched_within(ranking: Sequence[Iterable[str]], relevant: Mapping[str, float], k: int) -> int:
    """How many distinct relevant keys the top k items carry (an item naming two relevant keys finds both)."""
    return len({key for keys in ranking[:k] for key in keys if key in relevant})


def ranking_scores(ranking: Sequence[Iterable[str]], relevant: Mapping[str, float]) -> RankingScores:
    """Recall@5, Recall@10, reciprocal rank and nDCG (cut at 10) of one ranked list against its labels."""
    ranking = [set(keys) for keys in ranking]
    relevant = {key: float(grade) for key, grade in relevant.items() if grade > 0}
    item_gains = gains(ranking, relevant)
    return RankingScores(
        recall_at_5=recall_at(item_gains, relevant, 5, found=_matched_within(ranking, relevant, 5)),
        recall_at_10=recall_at(item_gains, relevant, 10, found=_matched_within(ranking, relevant, 10)),
        reciprocal_rank_at_10=reciprocal_rank_at(item_gains, 10),
        ndcg_at_10=ndcg_at(item_gains, relevant, 10),
        ranks=[rank for rank, gain in enumerate(item_gains, 1) if gain > 0],
        grades=[gain for gain in item_gains if gain > 0],
    )


def normalise_answer(text: str) -> str:
    """Case-, space- and punctuation-insensitive form: NFKC, casefolded, letters and digits only."""
    return _NOT_ALPHANUMERIC.sub("", unicodedata.normalize("NFKC", text).casefold())


def answer_hit(reply: str, expected: Sequence[str]) -> bool:
    """Whether any expected answer appears in the reply (after normalise_answer on both)."""
    found = normalise_answer(reply)
    return any((wanted := normalise_answer(answer)) and wanted in found for answer in expected)


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def precision_recall(*, predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[float | None, float | None]:
    """Precision and recall of a yes/no prediction (None when there is no predicted / no actual yes)."""
    true_positives = sum(1 for p, a in zip(predicted, actual, strict=True) if p and a)
    predicted_yes, actual_yes = sum(predicted), sum(actual)
    return (
        true_positives / predicted_yes if predicted_yes else None,
        true_positives / actual_yes if actual_yes else None,
    )
