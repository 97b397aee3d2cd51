"""Evaluation: a tenant's labelled questions run through a bot's real retrieval and answer path, scored.

The questions are a JSONL file of labelled questions; its format and validation live in chat.evaluation_file
(re-exported here).

Retrieval is scored per source: the retrieved chunks are grouped by source in the order their best chunk
came (later chunks of a source are dropped), then Recall@5, Recall@10, MRR@10 and nDCG@10 are computed over
that ranking (chat.evaluation_metrics). Answers come from `chat.services.chat_answer`, the same turn a user
gets, which persists nothing. The workflow runs in a command (`manage.py evaluate`) or in a Celery task for
the console (`EvaluationRun`); both store the run and its JSON report in the tenant's schema.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from chat import services

# re-exported too: callers (command, admin, tests, bench) import the file names from chat.evaluation
from chat.evaluation_file import (  # noqa: F401
    MAX_FILE_BYTES,
    LabelledQuestion,
    QuestionFileError,
    questions_decode,
    questions_parse,
    questions_read,
)
from chat.evaluation_metrics import RankingScores, answer_hit, mean, precision_recall, ranking_scores
from chat.models import EvaluationRun, EvaluationStatus
from minirag.errors import DomainError, InvalidInput
from minirag.integrations import llm
from minirag.tenancy import enqueue_on_commit
from sources.index import KnowledgeIndexError
from sources.models import Chunk, Source
from sources.retrieval import RetrievedChunk, retrieve
from usage.models import UsageKind
from usage.services import usage_record

logger = logging.getLogger("minirag.chat.evaluation")

REPORT_VERSION = 1
DEFAULT_TOP_K = 10
MIN_TOP_K = 10  # the metrics are cut at 10
MAX_TOP_K = 50
# Chunks fetched per ranked source: several chunks of one source collapse into one entry of the ranking, so
# fetching only K chunks would rank fewer than K sources.
CANDIDATES_PER_SOURCE = 3
MAX_CANDIDATES = 200
ANSWER_EXCERPT_CHARS = 300
PROGRESS_WRITE_INTERVAL_SECONDS = 1.0

ProgressCallback = Callable[[int, int], None]  # (questions done, questions in all)


# --- Scoring one bot -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedSource:
    name: str
    keys: frozenset[str]  # what a label may name it by: source id, source name, ids of its retrieved chunks
    score: float


def source_ranking(chunks: Sequence[RetrievedChunk], limit: int) -> list[RankedSource]:
    """Retrieved chunks as a ranking of sources: each source at the rank of its first (best) chunk."""
    order: list[str] = []
    names: dict[str, str] = {}
    keys: dict[str, set[str]] = {}
    scores: dict[str, float] = {}
    for chunk in chunks:
        if chunk.source_id not in keys:
            order.append(chunk.source_id)
            names[chunk.source_id] = chunk.source_name
            keys[chunk.source_id] = {chunk.source_id, chunk.source_name}
            scores[chunk.source_id] = chunk.score
        keys[chunk.source_id].add(chunk.chunk_id)
    return [RankedSource(names[sid], frozenset(keys[sid]), scores[sid]) for sid in order[:limit]]


def known_labels(*, bot, labels: set[str]) -> set[str]:
    """The labels that name one of the bot's active sources (by name or id) or one of its current chunks."""
    if not labels:
        return set()
    sources = Source.objects.filter(bot_profile=bot, is_active=True)
    known = set(sources.filter(name__in=labels).values_list("name", flat=True))
    ids = {label for label in labels if _is_uuid(label)}
    if ids:
        known |= {str(pk) for pk in sources.filter(pk__in=ids).values_list("pk", flat=True)}
        chunks = Chunk.objects.filter(point_id__in=ids, source__in=sources)
        known |= {str(point_id) for point_id in chunks.values_list("point_id", flat=True)}
    return known


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def bot_evaluate(
    *,
    bot,
    questions: Sequence[LabelledQuestion],
    top_k: int = DEFAULT_TOP_K,
    answers: bool = True,
    progress: ProgressCallback | None = None,
) -> dict:
    """Run every question through `bot`'s retrieval (and, with `answers`, its answer path); the JSON report.

    Runs in the current tenant schema and persists nothing (retrieval with an embedding model records its
    embedding usage, as chat does). A question whose answer fails (provider down, quota) is reported with its
    error and left out of the answer metrics; an unavailable knowledge index raises.
    """
    top_k = max(MIN_TOP_K, min(MAX_TOP_K, top_k))
    depth = min(MAX_CANDIDATES, top_k * CANDIDATES_PER_SOURCE)
    known = known_labels(bot=bot, labels={label for question in questions for label in question.relevant})
    started = time.monotonic()
    rows: list[dict] = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    for done, question in enumerate(questions, 1):
        ranking = source_ranking(retrieve(bot=bot, query=question.question, top_k=depth), top_k)
        scores = ranking_scores([item.keys for item in ranking], question.relevant) if question.relevant else None
        row = _row(question, ranking, scores, unknown=sorted(set(question.relevant) - known))
        if answers:
            _answer(bot, question, row, usage)
        rows.append(row)
        if progress is not None:
            progress(done, len(questions))
    return {
        "version": REPORT_VERSION,
        "created_at": timezone.now().isoformat(),
        "bot": {
            "id": str(bot.pk),
            "name": bot.name,
            "model": bot.model,
            "embedding_model": bot.embedding_model,
            "language": getattr(bot, "language", ""),
        },
        "summary": summarise(rows, top_k=top_k, answers=answers, seconds=time.monotonic() - started, usage=usage),
        "questions": rows,
    }


def _row(question: LabelledQuestion, ranking: list[RankedSource], scores: RankingScores | None, *, unknown) -> dict:
    row: dict[str, Any] = {
        "line": question.line,
        "id": question.id,
        "question": question.question,
        "relevant": question.relevant,
        "expected_no_answer": question.expects_no_answer,
        "retrieved": [item.name for item in ranking],
        "ranks": [],
        "recall_at_5": None,
        "recall_at_10": None,
        "reciprocal_rank_at_10": None,
        "ndcg_at_10": None,
        "unknown_labels": unknown,
    }
    if scores is not None:
        row.update(
            ranks=scores.ranks,
            recall_at_5=scores.recall_at_5,
            recall_at_10=scores.recall_at_10,
            reciprocal_rank_at_10=scores.reciprocal_rank_at_10,
            ndcg_at_10=scores.ndcg_at_10,
        )
    return row


def _answer(bot, question: LabelledQuestion, row: dict, usage: dict) -> None:
    row.update(answer_excerpt=None, no_answer=None, answer_hit=None, answer_error=None)
    try:
        answer = services.chat_answer(bot=bot, message=question.question)
    except DomainError as error:
        row["answer_error"] = str(error.detail)
        return
    if answer.generated.model != llm.EXTRACTIVE_MODEL:  # a model call costs the tenant like any other
        usage_record(
            kind=UsageKind.CHAT,
            model=answer.generated.model,
            prompt_tokens=answer.generated.prompt_tokens,
            completion_tokens=answer.generated.completion_tokens,
            bot_profile_id=bot.id,
            latency_ms=answer.generated.latency_ms,
        )
    row["answer_excerpt"] = answer.content[:ANSWER_EXCERPT_CHARS]
    row["no_answer"] = bool(answer.no_answer)
    row["answer_hit"] = answer_hit(answer.content, question.answers) if question.answers else None
    for key in usage:
        usage[key] += int((answer.usage or {}).get(key) or 0)


def summarise(rows: Sequence[dict], *, top_k: int, answers: bool, seconds: float = 0.0, usage=None) -> dict:
    """The report's summary over its per-question rows (means over the questions each metric applies to)."""
    ranked = [row for row in rows if not row["expected_no_answer"]]
    answered = [row for row in rows if answers and row.get("answer_error") is None]
    with_expected = [row for row in answered if row.get("answer_hit") is not None]
    precision, recall = precision_recall(
        predicted=[row["no_answer"] for row in answered], actual=[row["expected_no_answer"] for row in answered]
    )
    return {
        "top_k": top_k,
        "questions": len(rows),
        "with_relevant": len(ranked),
        "without_relevant": len(rows) - len(ranked),
        "recall_at_5": mean(row["recall_at_5"] for row in ranked),
        "recall_at_10": mean(row["recall_at_10"] for row in ranked),
        "mrr_at_10": mean(row["reciprocal_rank_at_10"] for row in ranked),
        "ndcg_at_10": mean(row["ndcg_at_10"] for row in ranked),
        "unknown_labels": sum(len(row["unknown_labels"]) for row in rows),
        "answers_evaluated": answers,
        "with_expected_answer": len(with_expected),
        "answer_hit_rate": mean(1.0 if row["answer_hit"] else 0.0 for row in with_expected),
        "no_answers_given": sum(1 for row in answered if row["no_answer"]),
        "no_answer_precision": precision,
        "no_answer_recall": recall,
        "answer_errors": sum(1 for row in rows if row.get("answer_error")) if answers else 0,
        "seconds": round(seconds, 3),
        "usage": usage or {"prompt_tokens": 0, "completion_tokens": 0},
    }


# --- Stored runs (console and command) -----------------------------------------------------------------------


def evaluation_run_create(
    *,
    bot,
    questions_text: str,
    name: str = "",
    top_k: int = DEFAULT_TOP_K,
    answers: bool = True,
    origin: str = "console",
    schedule: bool = True,
) -> EvaluationRun:
    """Validate the questions and store a queued run for `bot`; with `schedule`, queue the Celery task after
    commit (in the current tenant's schema). Raises QuestionFileError for an invalid file, InvalidInput for a
    top_k out of range."""
    if not MIN_TOP_K <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be between {MIN_TOP_K} and {MAX_TOP_K}")
    questions = questions_parse(questions_text)
    run = EvaluationRun.objects.create(
        bot_profile=bot,
        name=(name or "questions.jsonl")[:255],
        question_count=len(questions),
        top_k=top_k,
        include_answers=answers,
        questions=questions_text,
        origin=origin,
    )
    if schedule:
        _schedule(run)
    return run


def _schedule(run: EvaluationRun) -> None:
    from chat.tasks import evaluation_run_task  # chat.tasks imports this module

    run_id = str(run.pk)

    def broker_down() -> None:  # the run says so instead of waiting forever
        EvaluationRun.objects.filter(pk=run_id, status=EvaluationStatus.QUEUED).update(
            status=EvaluationStatus.FAILED,
            error="Could not queue the evaluation (task broker unavailable); try again",
            finished_at=timezone.now(),
        )

    enqueue_on_commit(evaluation_run_task, on_error=broker_down, run_id=run_id)


def evaluation_run_execute(*, run_id, progress: ProgressCallback | None = None) -> EvaluationRun:
    """Evaluate a queued run: status `running` with its progress written as it goes, then `done` with the
    report, or `failed` with the reason. A run that is not queued (already taken) is returned unchanged."""
    claimed = EvaluationRun.objects.filter(pk=run_id, status=EvaluationStatus.QUEUED).update(
        status=EvaluationStatus.RUNNING, started_at=timezone.now(), progress=0
    )
    run = EvaluationRun.objects.select_related("bot_profile").get(pk=run_id)
    if not claimed:
        return run
    last_write = [0.0]

    def on_progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last_write[0] >= PROGRESS_WRITE_INTERVAL_SECONDS:
            last_write[0] = now
            EvaluationRun.objects.filter(pk=run.pk).update(progress=int(99 * done / max(1, total)))
        if progress is not None:
            progress(done, total)

    try:
        if not run.bot_profile.is_active:
            raise InvalidInput("The bot is inactive")
        report = bot_evaluate(
            bot=run.bot_profile,
            questions=questions_parse(run.questions),
            top_k=run.top_k,
            answers=run.include_answers,
            progress=on_progress,
        )
    except Exception as error:
        if isinstance(error, DomainError):
            message = str(error.detail)
        elif isinstance(error, KnowledgeIndexError):
            message = str(error)
        else:
            logger.exception("evaluation run %s failed", run.pk)
            message = f"The evaluation failed ({type(error).__name__}); see the worker's log"
        EvaluationRun.objects.filter(pk=run.pk).update(
            status=EvaluationStatus.FAILED, error=message[:2000], finished_at=timezone.now()
        )
    else:
        EvaluationRun.objects.filter(pk=run.pk).update(
            status=EvaluationStatus.DONE, progress=100, report=report, finished_at=timezone.now()
        )
    run.refresh_from_db()
    return run
