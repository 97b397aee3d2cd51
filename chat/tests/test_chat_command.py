"""manage.py chat: streams the answer and lists the cited sources; continues a chat with --chat."""

import io

import pytest
from django.core.management import CommandError, call_command

from chat.models import Chat, Message
from chat.tests.conftest import PARIS_TEXT, ingest_text, make_extractive_bot
from minirag.tenancy import tenant_context


def _run(*args, lines: str) -> str:
    out = io.StringIO()
    call_command("chat", *args, stdin=io.StringIO(lines), stdout=out, stderr=out)
    return out.getvalue()


def test_terminal_chat_streams_answers_and_lists_sources(tenant_a, django_capture_on_commit_callbacks):
    bot = make_extractive_bot(tenant_a.tenant, name="Guide")
    ingest_text(
        tenant_a.tenant, bot, name="Quaxland facts", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks
    )

    output = _run(
        "--tenant", tenant_a.tenant.slug, "--bot", "Guide", lines="What is the capital of Quaxland?\n\n/quit\n"
    )

    assert "bot> The capital of Quaxland is Blipton" in output
    assert "Sources:\n  [1] Quaxland facts (score" in output
    with tenant_context(tenant_a.tenant):
        chat = Chat.objects.get()
        assert chat.message_count == 2 and chat.user_id == tenant_a.owner.id


def test_terminal_chat_continues_an_existing_chat_by_bot_id(tenant_a):
    bot = make_extractive_bot(tenant_a.tenant, name="Guide")
    _run("--tenant", tenant_a.tenant.slug, "--bot", "Guide", lines="first\n")
    with tenant_context(tenant_a.tenant):
        chat = Chat.objects.get()

    _run("--tenant", tenant_a.tenant.slug, "--bot", str(bot.id), "--chat", str(chat.id), lines="second\nthird\n")

    with tenant_context(tenant_a.tenant):
        assert list(Message.objects.filter(chat=chat, role="user").values_list("content", flat=True)) == [
            "first",
            "second",
            "third",
        ]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--tenant", "nope", "--bot", "x"], "No tenant"),
        (["--tenant", "tenant-a", "--bot", "missing"], "No active bot"),
    ],
)
def test_terminal_chat_reports_unknown_tenant_or_bot(tenant_a, args, error):
    with pytest.raises(CommandError, match=error):
        _run(*args, lines="")
