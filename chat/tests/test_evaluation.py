"""Evaluation: metrics on hand-made rankings, the labelled-question file, `manage.py evaluate`, the console."""

import io
import json
import math
import re
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from chat import evaluation, evaluation_file
from chat.evaluation_metrics import answer_hit, precision_recall, ranking_scores
from chat.models import EvaluationRun, EvaluationStatus
from chat.tests.conftest import PARIS_TEXT, ingest_text, make_extractive_bot
from minirag.tenancy import tenant_context
from sources.index import RetrievedChunk

# --- Metrics over plain data ----------------------------------------------------------------------------------


def test_binary_ranking_scores_match_hand_computed_values():
    # Relevant a, b, c; found at ranks 1 and 3, c never.
    ranking = [{"a"}, {"x"}, {"b"}, {"y"}, {"z"}]

    scores = ranking_scores(ranking, {"a": 1, "b": 1, "c": 1})

    assert scores.ranks == [1, 3]
    assert scores.recall_at_5 == pytest.approx(2 / 3)
    assert scores.recall_at_10 == pytest.approx(2 / 3)
    assert scores.reciprocal_rank_at_10 == 1.0
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert scores.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(4)) / ideal)  # 0.70391


def test_graded_ndcg_uses_linear_gains_against_the_ideal_order():
    # Grades a=3, c=2, b=1; the ranking puts b first, then a miss, then a.
    scores = ranking_scores([{"b"}, {"x"}, {"a"}], {"a": 3, "b": 1, "c": 2})

    dcg = 1 / math.log2(2) + 3 / math.log2(4)  # 2.5
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)  # 4.7619
    assert scores.ndcg_at_10 == pytest.approx(dcg / ideal)
    assert scores.ndcg_at_10 == pytest.approx(0.52501, abs=1e-5)
    assert scores.grades == [1.0, 3.0]
    assert scores.reciprocal_rank_at_10 == 1.0


def test_a_perfect_ranking_scores_one_and_an_empty_ranking_zero():
    perfect = ranking_scores([{"a"}, {"b"}], {"a": 2, "b": 1})
    empty = ranking_scores([], {"a": 1})

    assert (perfect.recall_at_5, perfect.reciprocal_rank_at_10, perfect.ndcg_at_10) == (1.0, 1.0, pytest.approx(1.0))
    assert (empty.recall_at_5, empty.reciprocal_rank_at_10, empty.ndcg_at_10, empty.ranks) == (0.0, 0.0, 0.0, [])


def test_cutoffs_separate_recall_at_5_from_recall_at_10_and_mrr_from_rank_11():
    misses = [{f"miss{i}"} for i in range(6)]
    late = ranking_scores([*misses, {"a"}], {"a": 1})  # rank 7
    too_late = ranking_scores([*misses, *[{f"more{i}"} for i in range(4)], {"a"}], {"a": 1})  # rank 11

    assert (late.recall_at_5, late.recall_at_10) == (0.0, 1.0)
    assert late.reciprocal_rank_at_10 == pytest.approx(1 / 7)
    assert (too_late.recall_at_10, too_late.reciprocal_rank_at_10, too_late.ndcg_at_10) == (0.0, 0.0, 0.0)
    assert too_late.ranks == [11]


def test_a_relevant_item_matched_twice_counts_once():
    scores = ranking_scores([{"a", "name-a"}, {"a"}, {"b"}], {"a": 1, "b": 1})

    assert scores.ranks == [1, 3]
    assert scores.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_source_ranking_keeps_each_source_at_its_first_chunk():
    def chunk(source: str, number: int, score: float) -> RetrievedChunk:
        return RetrievedChunk(
            chunk_id=f"{source}-{number}", source_id=f"id-{source}", source_name=f"Source {source}",
            document_id="d", content="", score=score, page=None, chunk_index=number,
        )  # fmt: skip

    chunks = [chunk("A", 1, 9), chunk("A", 2, 8), chunk("B", 1, 7), chunk("A", 3, 6), chunk("C", 1, 5)]

    ranking = evaluation.source_ranking(chunks, limit=10)

    assert [item.name for item in ranking] == ["Source A", "Source B", "Source C"]
    assert ranking[0].keys == {"id-A", "Source A", "A-1", "A-2", "A-3"}
    assert [item.name for item in evaluation.source_ranking(chunks, limit=2)] == ["Source A", "Source B"]
    # A label naming A's third chunk is found at A's rank (1), not at the chunk's position (4).
    assert ranking_scores([item.keys for item in ranking], {"A-3": 1}).ranks == [1]


def test_answer_hit_ignores_case_spaces_and_punctuation_only():
    assert answer_hit("Call Extension 4,400 today!", ["extension 4400"])
    assert answer_hit("The capital is BLIPTON.", ["Paris", "blipton"])
    assert not answer_hit("Call extension 4401.", ["extension 4400"])
    assert not answer_hit("anything", [""])


def test_no_answer_precision_and_recall():
    assert precision_recall(predicted=[True, True, False, False], actual=[True, False, True, False]) == (0.5, 0.5)
    assert precision_recall(predicted=[False, False], actual=[True, False]) == (None, 0.0)
    assert precision_recall(predicted=[True], actual=[False]) == (0.0, None)


# --- The labelled-question file ------------------------------------------------------------------------------


def test_question_file_parses_lists_grades_answers_and_keeps_line_numbers():
    text = "\n".join(
        [
            '{"question": "Where is Blipton?", "relevant": ["Quaxland facts"], "answer": "Quaxland", "id": 7}',
            "",
            '{"question": "Graded?", "relevant": {"A": 3, "B": 1, "C": 0}, "answer": ["x", "y"]}',
            '{"question": "Not in the knowledge base", "relevant": []}',
            '{"question": "No labels at all"}',
        ]
    )

    questions = evaluation.questions_parse(text)

    assert [q.line for q in questions] == [1, 3, 4, 5]
    assert questions[0].relevant == {"Quaxland facts": 1.0}
    assert questions[0].answers == ("Quaxland",) and questions[0].id == "7"
    assert questions[1].relevant == {"A": 3.0, "B": 1.0}  # grade 0 = judged not relevant
    assert questions[1].answers == ("x", "y")
    assert [q.expects_no_answer for q in questions] == [False, False, True, True]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"question": "ok"}\n{"question": "broken"', "Line 2: not valid JSON"),
        ('["a list"]', "Line 1: expected a JSON object"),
        ('{"relevant": ["A"]}', 'Line 1: "question" must be a non-empty string'),
        ('{"question": "   "}', 'Line 1: "question" must be a non-empty string'),
        ('{"question": "q", "relevant": "A"}', 'Line 1: "relevant" must be a list'),
        ('{"question": "q", "relevant": [3]}', 'Line 1: each "relevant" label must be a non-empty string'),
        ('{"question": "q", "relevant": {"A": "high"}}', "Line 1: the grade of 'A' must be a number"),
        ('{"question": "q", "relevant": {"A": 0}}', 'Line 1: every "relevant" grade is 0'),
        ('{"question": "q", "answer": 42}', 'Line 1: "answer" must be a string or a list of strings'),
        ('{"question": "q", "relevent": ["A"]}', "Line 1: unknown field(s) relevent"),
        ("\n\n", "holds no questions"),
    ],
)
def test_question_file_errors_name_the_line(text, message):
    with pytest.raises(evaluation.QuestionFileError) as caught:
        evaluation.questions_parse(text)
    assert message in str(caught.value.detail)


def test_question_file_is_bounded_in_size_and_count(monkeypatch):
    # The limits live where the file is parsed (chat.evaluation_file; chat.evaluation re-exports the names).
    monkeypatch.setattr(evaluation_file, "MAX_QUESTIONS", 2)
    with pytest.raises(evaluation.QuestionFileError, match="Line 3: more than 2 questions"):
        evaluation.questions_parse('{"question": "a"}\n{"question": "b"}\n{"question": "c"}')

    monkeypatch.setattr(evaluation_file, "MAX_FILE_BYTES", 100)
    with pytest.raises(evaluation.QuestionFileError, match="larger than"):
        evaluation.questions_decode(b'{"question": "' + b"x" * 200 + b'"}')
    with pytest.raises(evaluation.QuestionFileError, match="not UTF-8"):
        evaluation.questions_decode(b'{"question": "\xff"}')


# --- The command, end to end on a small labelled collection -------------------------------------------------

HARBOUR_TEXT = (
    "The harbour master of Blipton keeps the tide tables. Ferries to the outer islands leave at dawn from "
    "pier four, and the harbour office sells the ferry tickets."
)
ORCHARD_TEXT = (
    "Quaxland orchards grow cider apples on the southern hills. The apple harvest festival is held every "
    "October in the village of Grumbleton, with a cider press contest."
)
QUESTIONS = [
    {"question": "When is the apple harvest festival in Grumbleton?", "relevant": ["Orchards"], "answer": "October"},
    {
        "question": "Where do ferries to the outer islands leave from?",
        "relevant": {"Harbour": 2},
        "answer": "pier four",
    },
    {"question": "What is the national dish of Quaxland?", "relevant": ["Quaxland facts", "Missing guide"]},
    {"question": "Xylophone zebra quantum?", "relevant": []},
]


@pytest.fixture
def collection(tenant_a, django_capture_on_commit_callbacks):
    """An extractive bot with three ingested text sources (the real pipeline)."""
    bot = make_extractive_bot(tenant_a.tenant, name="Evaluated")
    for name, text in (("Quaxland facts", PARIS_TEXT), ("Harbour", HARBOUR_TEXT), ("Orchards", ORCHARD_TEXT)):
        ingest_text(tenant_a.tenant, bot, name=name, content=text, capture=django_capture_on_commit_callbacks)
    return bot


def _write_questions(tmp_path, questions=QUESTIONS) -> str:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(question) + "\n" for question in questions))
    return str(path)


def test_evaluate_command_prints_the_metrics_and_writes_the_report(tenant_a, collection, tmp_path):
    output = tmp_path / "report.json"
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "evaluate", "--tenant", tenant_a.tenant.slug, "--bot", "Evaluated", "--file", _write_questions(tmp_path),
        "--output", str(output), "--no-answers", "--no-progress", stdout=out, stderr=err,
    )  # fmt: skip

    report = json.loads(output.read_text())
    rows = report["questions"]
    assert [row["retrieved"][0] for row in rows[:3]] == ["Orchards", "Harbour", "Quaxland facts"]
    assert [row["ranks"][:1] for row in rows] == [[1], [1], [1], []]
    # Question 3 names a source the bot does not have: it can only be half recalled.
    assert rows[2]["unknown_labels"] == ["Missing guide"] and rows[2]["recall_at_10"] == 0.5
    summary = report["summary"]
    assert summary["questions"] == 4 and summary["with_relevant"] == 3 and summary["without_relevant"] == 1
    assert summary["recall_at_10"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert summary["mrr_at_10"] == 1.0
    assert summary["answers_evaluated"] is False and summary["answer_hit_rate"] is None
    printed = out.getvalue()
    assert "3 questions with relevant sources" in printed
    assert re.search(rf"Recall@10 +{summary['recall_at_10']:.3f}\n", printed)
    assert re.search(rf"nDCG@10 +{summary['ndcg_at_10']:.3f}\n", printed)
    assert "Answer hit rate" not in printed
    assert "1 relevant label(s) name no active source" in err.getvalue()
    with tenant_context(tenant_a.tenant):
        run = EvaluationRun.objects.get()
        assert (run.status, run.origin, run.progress, run.question_count) == ("done", "command", 100, 4)
        assert run.report == report
        assert f"Stored as evaluation run {run.pk}" in printed


def test_evaluate_command_scores_answers_and_no_answers(tenant_a, collection, tmp_path):
    output = tmp_path / "report.json"
    out = io.StringIO()

    call_command(
        "evaluate", "--tenant", tenant_a.tenant.slug, "--bot", str(collection.id), "--file",
        _write_questions(tmp_path), "--output", str(output), "--no-progress", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip

    report = json.loads(output.read_text())
    rows = report["questions"]
    assert rows[0]["answer_hit"] is True and "October" in rows[0]["answer_excerpt"]
    assert rows[1]["answer_hit"] is True and "pier four" in rows[1]["answer_excerpt"]
    assert rows[2]["answer_hit"] is None  # no expected answer given
    assert rows[3]["no_answer"] is True  # nothing in the knowledge base matches
    summary = report["summary"]
    assert summary["answer_hit_rate"] == 1.0 and summary["with_expected_answer"] == 2
    assert summary["no_answer_recall"] == 1.0
    expected_precision = 1 / sum(1 for row in rows if row["no_answer"])
    assert summary["no_answer_precision"] == pytest.approx(expected_precision)
    assert re.search(r"Answer hit rate +1\.000  2 with an expected answer", out.getvalue())


@pytest.mark.parametrize(
    ("lines", "args", "error"),
    [
        ('{"question": "ok"}\nnot json\n', ["--bot", "Evaluated"], "Line 2: not valid JSON"),
        ('{"question": "ok"}\n', ["--bot", "Nobody"], "No active bot"),
        ('{"question": "ok"}\n', ["--bot", "Evaluated", "--top-k", "5"], "top_k must be between 10 and 50"),
    ],
)
def test_evaluate_command_refuses_bad_input_without_storing_a_run(tenant_a, collection, tmp_path, lines, args, error):
    path = tmp_path / "questions.jsonl"
    path.write_text(lines)

    with pytest.raises(CommandError, match=error):
        call_command("evaluate", "--tenant", tenant_a.tenant.slug, "--file", str(path), "--no-progress", *args)

    with tenant_context(tenant_a.tenant):
        assert not EvaluationRun.objects.exists()


def test_evaluate_command_needs_a_tenant_when_there_are_several(tenant_a, tenant_b, tmp_path):
    with pytest.raises(CommandError, match="Give --tenant"):
        call_command("evaluate", "--bot", "Evaluated", "--file", _write_questions(tmp_path))


# --- The console: upload → task → report --------------------------------------------------------------------


def test_console_upload_runs_the_evaluation_in_a_task_and_shows_the_report(
    operator, tenant_a, tenant_b, collection, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile(
        "handbook.jsonl", "".join(json.dumps(q) + "\n" for q in QUESTIONS).encode(), "application/jsonl"
    )
    slug = tenant_a.tenant.slug
    listing = operator.get(f"/admin/chat/evaluationrun/?tenant={slug}")
    assert "Evaluate a bot" in listing.content.decode()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = operator.post(
            f"/admin/chat/evaluationrun/evaluate/?tenant={slug}",
            {"bot_profile": str(collection.id), "questions_file": upload, "top_k": 10},
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert len(callbacks) == 1  # the task is queued after commit, not run in the request
    with tenant_context(tenant_a.tenant):
        run = EvaluationRun.objects.get()
    assert response["Location"].endswith(f"/admin/chat/evaluationrun/{run.pk}/change/")
    assert (run.status, run.progress, run.origin, run.name) == (EvaluationStatus.DONE, 100, "console", "handbook.jsonl")
    assert run.include_answers is False  # the unchecked box: retrieval only
    page = operator.get(f"/admin/chat/evaluationrun/{run.pk}/change/").content.decode()
    assert "nDCG@10" in page and f"{run.report['summary']['ndcg_at_10']:.3f}" in page
    assert "When is the apple harvest festival in Grumbleton?" in page
    assert "1. Orchards" in page
    assert "Answers were not generated" in page
    other = operator.get(f"/admin/chat/evaluationrun/?tenant={tenant_b.tenant.slug}")
    assert "handbook.jsonl" not in other.content.decode()


def test_console_upload_of_an_invalid_file_shows_the_line_and_queues_nothing(operator, tenant_a, collection):
    upload = SimpleUploadedFile("bad.jsonl", b'{"question": "ok"}\n{"question": 3}\n')

    response = operator.post(
        f"/admin/chat/evaluationrun/evaluate/?tenant={tenant_a.tenant.slug}",
        {"bot_profile": str(collection.id), "questions_file": upload, "top_k": 10, "include_answers": "on"},
    )

    assert response.status_code == 200
    assert "Line 2: &quot;question&quot; must be a non-empty string" in response.content.decode()
    with tenant_context(tenant_a.tenant):
        assert not EvaluationRun.objects.exists()


def test_a_running_run_page_reloads_and_a_failed_run_shows_why(operator, tenant_a, collection):
    with tenant_context(tenant_a.tenant):
        running = evaluation.evaluation_run_create(
            bot=collection, questions_text='{"question": "q"}', name="slow.jsonl", schedule=False
        )
        failed = evaluation.evaluation_run_create(
            bot=collection, questions_text='{"question": "q"}', name="gone.jsonl", schedule=False
        )
        EvaluationRun.objects.filter(pk=running.pk).update(status=EvaluationStatus.RUNNING, progress=40)
        collection.is_active = False
        collection.save(update_fields=["is_active"])
        failed = evaluation.evaluation_run_execute(run_id=failed.pk)

    running_page = operator.get(f"/admin/chat/evaluationrun/{running.pk}/change/?tenant={tenant_a.tenant.slug}")
    failed_page = operator.get(f"/admin/chat/evaluationrun/{failed.pk}/change/")

    assert 'http-equiv="refresh"' in running_page.content.decode() and "40% done" in running_page.content.decode()
    assert failed.status == EvaluationStatus.FAILED and failed.error == "The bot is inactive"
    assert "The bot is inactive" in failed_page.content.decode()
    assert 'http-equiv="refresh"' not in failed_page.content.decode()


def test_a_broker_outage_fails_the_run_instead_of_leaving_it_queued(tenant_a, django_capture_on_commit_callbacks):
    bot = make_extractive_bot(tenant_a.tenant, name="Unqueued")
    with (
        tenant_context(tenant_a.tenant),
        mock.patch("chat.tasks.evaluation_run_task.apply_async", side_effect=ConnectionError("broker down")),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            run = evaluation.evaluation_run_create(bot=bot, questions_text='{"question": "q"}', name="q.jsonl")
        run.refresh_from_db()

    assert run.status == EvaluationStatus.FAILED
    assert run.error == "Could not queue the evaluation (task broker unavailable); try again"
