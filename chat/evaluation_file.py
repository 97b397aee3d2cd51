"""The labelled-question file of an evaluation (chat.evaluation): read, decode and validate it.

The questions are JSONL, one object per line:

    {"question": "Who do I call if I lose my laptop?", "relevant": ["Handbook"], "answer": "extension 4400"}
    {"question": "What is the capital of Mars?", "relevant": []}

- `relevant`: source names, source ids or chunk ids, as a list (binary relevance) or an object mapping each
  to a grade (graded relevance: 1, 2, 3…). Empty or missing means "the knowledge base does not hold this":
  the bot should say it does not know.
- `answer` (optional): a string or a list of strings; the reply "hits" when any of them appears in it,
  ignoring case, spaces and punctuation.
- `id` (optional): shown in the report.

Every error is a QuestionFileError naming the first bad line, so an operator can fix the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from minirag.errors import InvalidInput

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_QUESTIONS = 5_000
MAX_LABELS_PER_QUESTION = 1_000
MAX_LABEL_CHARS = 500
MAX_ANSWER_CHARS = 2_000


class QuestionFileError(InvalidInput):
    """The labelled-question file is not valid; the message names the line."""


@dataclass(frozen=True)
class LabelledQuestion:
    line: int
    question: str
    relevant: dict[str, float]  # label → grade (1.0 for a plain list)
    answers: tuple[str, ...]
    id: str = ""

    @property
    def expects_no_answer(self) -> bool:
        return not self.relevant


def questions_parse(text: str) -> list[LabelledQuestion]:
    """Validate a JSONL labelled-question file; raises QuestionFileError naming the first bad line."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise QuestionFileError(f"The question file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    questions: list[LabelledQuestion] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if len(questions) >= MAX_QUESTIONS:
            raise QuestionFileError(f"Line {number}: more than {MAX_QUESTIONS} questions in one file")
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuestionFileError(f"Line {number}: not valid JSON ({error.msg})") from None
        questions.append(_question(number, item))
    if not questions:
        raise QuestionFileError("The question file holds no questions (one JSON object per line)")
    return questions


def questions_read(path: str) -> str:
    """The text of a question file on disk, bounded and decoded (QuestionFileError otherwise)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise QuestionFileError(f"Cannot read {path}: {error.strerror}") from None
    return questions_decode(data)


def questions_decode(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise QuestionFileError(f"The question file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise QuestionFileError("The question file is not UTF-8 text") from None


def _question(number: int, item: Any) -> LabelledQuestion:
    where = f"Line {number}"
    if not isinstance(item, dict):
        raise QuestionFileError(f"{where}: expected a JSON object, got {type(item).__name__}")
    unknown = sorted(set(item) - {"question", "relevant", "answer", "id"})
    if unknown:
        raise QuestionFileError(f"{where}: unknown field(s) {', '.join(unknown)} (question, relevant, answer, id)")
    question = item.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionFileError(f'{where}: "question" must be a non-empty string')
    if len(question) > settings.CHAT_MESSAGE_MAX_CHARS:
        raise QuestionFileError(f'{where}: "question" is longer than {settings.CHAT_MESSAGE_MAX_CHARS} characters')
    identifier = item.get("id", "")
    if not isinstance(identifier, str | int) or isinstance(identifier, bool):
        raise QuestionFileError(f'{where}: "id" must be a string or a number')
    return LabelledQuestion(
        line=number,
        question=question.strip(),
        relevant=_relevant(where, item.get("relevant")),
        answers=_answers(where, item.get("answer")),
        id=str(identifier)[:MAX_LABEL_CHARS],
    )


def _relevant(where: str, value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, list):
        pairs = [(label, 1) for label in value]
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise QuestionFileError(f'{where}: "relevant" must be a list of labels or an object of label: grade')
    if len(pairs) > MAX_LABELS_PER_QUESTION:
        raise QuestionFileError(f'{where}: more than {MAX_LABELS_PER_QUESTION} "relevant" labels')
    relevant: dict[str, float] = {}
    for label, grade in pairs:
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_CHARS:
            raise QuestionFileError(
                f'{where}: each "relevant" label must be a non-empty string of at most {MAX_LABEL_CHARS} characters'
            )
        if isinstance(grade, bool) or not isinstance(grade, int | float) or not 0 <= grade <= 100:
            raise QuestionFileError(f"{where}: the grade of {label!r} must be a number from 0 to 100")
        if grade > 0:  # grade 0 = judged not relevant, as in TREC qrels
            relevant[label.strip()] = max(float(grade), relevant.get(label.strip(), 0.0))
    if pairs and not relevant:
        raise QuestionFileError(
            f'{where}: every "relevant" grade is 0 (leave "relevant" empty for a no-answer question)'
        )
    return relevant


def _answers(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    answers = [value] if isinstance(value, str) else value
    if not isinstance(answers, list) or not all(isinstance(answer, str) for answer in answers):
        raise QuestionFileError(f'{where}: "answer" must be a string or a list of strings')
    if any(len(answer) > MAX_ANSWER_CHARS for answer in answers):
        raise QuestionFileError(f'{where}: an "answer" is longer than {MAX_ANSWER_CHARS} characters')
    return tuple(answer for answer in answers if answer.strip())
