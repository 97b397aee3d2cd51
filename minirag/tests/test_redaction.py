"""Error text kept for operators masks anything key-like and stays short, and leaves ordinary words alone."""

import pytest

from minirag.redaction import REDACTED, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Incorrect API key provided: sk-proj-****************abcd. See docs",
         f"Incorrect API key provided: {REDACTED}. See docs"),
        ("upstream failure with secret sk-fake-leak-1234567890", f"upstream failure with secret {REDACTED}"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl", f"Authorization: {REDACTED} {REDACTED}"),
        ("GET /v1/embed?api_key=AbC123xyz&model=m failed", f"GET /v1/embed?api_key={REDACTED}&model=m failed"),
        ('{"password": "hunter2", "user": "ann"}', f'{{"password": "{REDACTED}", "user": "ann"}}'),
        ("could not connect to postgres://app:pa55word@db:5432/minirag",
         f"could not connect to postgres://{REDACTED}@db:5432/minirag"),
        ("request id 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 failed",
         f"request id {REDACTED} failed"),
        ("key QUtJQUlPU0ZPRE5ON0VYQU1QTEUvd0phbHJYVXRuRkVNSQ== rejected", f"key {REDACTED} rejected"),
        ("ghp_aBcDeFgHiJkLmNoPqRsTuV and AKIAIOSFODNN7EXAMPLE", f"{REDACTED} and {REDACTED}"),
    ],
)  # fmt: skip
def test_key_like_text_is_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "token limit exceeded: 9000 > 8192 for this model",
        "a basic error in source 0b7f3c52-2d7e-4f0a-9c1e-6a3f5d8e9b10",
        "KeyError: 'page_labels' (at sources/pipeline/extract_pdf.py:88)",
        "this_is_a_long_identifier_without_any_digits_in_it_at_all",
    ],
)
def test_ordinary_error_text_is_left_alone(text):
    assert redact(text) == text


def test_long_text_is_capped_with_a_mark():
    capped = redact("word " * 1000, limit=100)
    assert len(capped) == 100 and capped.endswith("…")
    assert redact("", limit=10) == ""
