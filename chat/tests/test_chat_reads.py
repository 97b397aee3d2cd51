"""Chat reads, feedback and exports: pagination, validation, CSV columns, fixed query counts, isolation."""

import csv
import datetime as dt
import io
import uuid

import pytest
from django.utils import timezone

from chat.models import Chat, Message, MessageRole
from chat.tests.factories import BotFactory, ChatFactory, MessageFactory
from minirag.tenancy import tenant_context

BULK_COLUMNS = [
    "chat_id",
    "chat_title",
    "message_id",
    "role",
    "content",
    "feedback",
    "prompt_tokens",
    "completion_tokens",
    "created_at",
]


def _conversation(chat: Chat, turns: int = 2, start: dt.datetime | None = None) -> list[Message]:
    start = start or timezone.now() - dt.timedelta(hours=1)
    messages = []
    for index in range(turns):
        at = start + dt.timedelta(minutes=2 * index)
        messages.append(MessageFactory(chat=chat, role=MessageRole.USER, content=f"q{index}", created_at=at))
        messages.append(
            MessageFactory(
                chat=chat,
                role=MessageRole.ASSISTANT,
                content=f"a{index}, with a comma",
                prompt_tokens=10,
                completion_tokens=5,
                created_at=at + dt.timedelta(minutes=1),
            )
        )
    Chat.objects.filter(pk=chat.pk).update(message_count=2 * turns)
    return messages


@pytest.fixture
def chats(tenant_a):
    with tenant_context(tenant_a.tenant):
        bot, other = BotFactory(), BotFactory()
        now = timezone.now()
        first = ChatFactory(bot_profile_id=bot.id, title="first", created_at=now - dt.timedelta(days=3))
        second = ChatFactory(bot_profile_id=bot.id, title="second", created_at=now - dt.timedelta(days=1))
        third = ChatFactory(bot_profile_id=other.id, title="third", created_at=now)
        for chat in (first, second, third):
            _conversation(chat, start=chat.created_at)
    return {"bot": bot, "other": other, "first": first, "second": second, "third": third}


def test_list_is_newest_first_and_filters_by_bot(tenant_a, chats):
    client = tenant_a.client()

    everything = client.get("/v1/chat").json()
    of_bot = client.get("/v1/chat", {"bot_profile_id": str(chats["bot"].id)}).json()
    page = client.get("/v1/chat", {"limit": 1, "offset": 1}).json()

    assert [c["title"] for c in everything] == ["third", "second", "first"]
    assert [c["title"] for c in of_bot] == ["second", "first"]
    assert [c["title"] for c in page] == ["second"]
    assert set(everything[0]) == {
        "id",
        "tenant_id",
        "bot_profile_id",
        "title",
        "message_count",
        "total_prompt_tokens",
        "total_completion_tokens",
        "created_at",
        "updated_at",
    }
    assert everything[0]["tenant_id"] == str(tenant_a.tenant.id) and everything[0]["message_count"] == 4


def test_list_rejects_a_malformed_bot_filter(tenant_a):
    assert tenant_a.client().get("/v1/chat", {"bot_profile_id": "nope"}).status_code == 422


def test_get_and_messages_oldest_first_paginated(tenant_a, chats):
    client = tenant_a.client()
    chat_id = chats["first"].id

    assert client.get(f"/v1/chat/{chat_id}").json()["title"] == "first"
    response = client.get(f"/v1/chat/{chat_id}/messages", {"limit": 3})
    rest = client.get(f"/v1/chat/{chat_id}/messages", {"limit": 3, "offset": 3}).json()

    assert [m["content"] for m in response.json()] == ["q0", "a0, with a comma", "q1"]
    assert response["X-Total-Count"] == "4"
    assert [m["content"] for m in rest] == ["a1, with a comma"]
    assert set(response.json()[0]) == {
        "id",
        "chat_id",
        "role",
        "content",
        "prompt_tokens",
        "completion_tokens",
        "feedback",
        "is_complete",
        "sources",
        "created_at",
    }
    assert response.json()[0]["sources"] == []


def test_an_answer_reads_back_with_the_sources_it_cites(tenant_a, chats):
    # What a client needs to show `[n]` again later (the widget, after a page reload): sources[n-1].
    cited = {
        "chunk_id": str(uuid.uuid4()),
        "content": "Blipton is the capital.",
        "score": 0.91,
        "source_id": str(uuid.uuid4()),
        "source_name": "Atlas",
        "page": 4,
        "section": "Quaxland",
    }
    older = {"chunk_id": "c", "content": "x", "score": 0.5, "source_id": "s", "source_name": "Old"}  # no page/section
    with tenant_context(tenant_a.tenant):
        answers = list(chats["first"].messages.filter(role=MessageRole.ASSISTANT).order_by("created_at"))
        Message.objects.filter(pk=answers[0].pk).update(sources=[cited])
        Message.objects.filter(pk=answers[1].pk).update(sources=[older])

    messages = tenant_a.client().get(f"/v1/chat/{chats['first'].id}/messages").json()

    assert [m["sources"] for m in messages if m["role"] == "assistant"] == [[cited], [older]]


def test_unknown_chat_is_404(tenant_a):
    missing = uuid.uuid4()
    for path in (f"/v1/chat/{missing}", f"/v1/chat/{missing}/messages", f"/v1/chat/{missing}/export"):
        response = tenant_a.client().get(path)
        assert response.status_code == 404 and response.json() == {"detail": "Chat session not found"}


def _assistant(tenant, chat) -> Message:
    with tenant_context(tenant):
        return Message.objects.filter(chat=chat, role=MessageRole.ASSISTANT).first()


def _user(tenant, chat) -> Message:
    with tenant_context(tenant):
        return Message.objects.filter(chat=chat, role=MessageRole.USER).first()


def test_feedback_sets_and_clears(tenant_a, chats):
    chat = chats["first"]
    message = _assistant(tenant_a.tenant, chat)
    url = f"/v1/chat/{chat.id}/messages/{message.id}/feedback"
    client = tenant_a.client()

    positive = client.patch(url, {"feedback": "positive"}, format="json")
    cleared = client.patch(url, {"feedback": None}, format="json")

    assert positive.status_code == 200 and positive.json()["feedback"] == "positive"
    assert cleared.status_code == 200 and cleared.json()["feedback"] is None
    with tenant_context(tenant_a.tenant):
        assert Message.objects.get(pk=message.pk).feedback is None


@pytest.mark.parametrize("body", [{}, {"feedback": "meh"}])
def test_feedback_body_is_validated(tenant_a, chats, body):
    chat = chats["first"]
    message = _assistant(tenant_a.tenant, chat)

    response = tenant_a.client().patch(f"/v1/chat/{chat.id}/messages/{message.id}/feedback", body, format="json")

    assert response.status_code == 422


def test_feedback_only_on_assistant_messages(tenant_a, chats):
    chat = chats["first"]
    message = _user(tenant_a.tenant, chat)

    response = tenant_a.client().patch(
        f"/v1/chat/{chat.id}/messages/{message.id}/feedback", {"feedback": "positive"}, format="json"
    )

    assert response.status_code == 422
    assert response.json() == {"detail": "Feedback can only be set on assistant messages"}


def test_feedback_on_a_message_of_another_chat_is_404(tenant_a, chats):
    message = _assistant(tenant_a.tenant, chats["second"])

    response = tenant_a.client().patch(
        f"/v1/chat/{chats['first'].id}/messages/{message.id}/feedback", {"feedback": "positive"}, format="json"
    )

    assert response.status_code == 404 and response.json() == {"detail": "Message not found"}


def test_single_export_json_and_csv(tenant_a, chats):
    chat = chats["first"]
    client = tenant_a.client()

    body = client.get(f"/v1/chat/{chat.id}/export").json()
    response = client.get(f"/v1/chat/{chat.id}/export", {"format": "csv"})

    assert body["chat"]["id"] == str(chat.id) and len(body["messages"]) == 4 and body["exported_at"]
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f"attachment; filename=chat_{chat.id}.csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == BULK_COLUMNS[2:]
    assert [row[1:3] for row in rows[1:]] == [
        ["user", "q0"],
        ["assistant", "a0, with a comma"],
        ["user", "q1"],
        ["assistant", "a1, with a comma"],
    ]


def test_bulk_export_json_groups_messages_per_chat(tenant_a, chats):
    body = tenant_a.client().get("/v1/chat/export", {"bot_profile_id": str(chats["bot"].id)}).json()

    assert [entry["chat"]["title"] for entry in body["chats"]] == ["second", "first"]
    assert [m["content"] for m in body["chats"][1]["messages"]] == ["q0", "a0, with a comma", "q1", "a1, with a comma"]
    assert "exported_at" in body


def test_bulk_export_csv_is_streamed_with_the_reference_columns(tenant_a, chats):
    response = tenant_a.client().get("/v1/chat/export", {"format": "csv"})

    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == "attachment; filename=chats_export.csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == BULK_COLUMNS
    assert len(rows) == 1 + 12
    assert [row[1] for row in rows[1::4]] == ["third", "second", "first"]
    first = rows[-1]
    assert first[3:][:2] == ["assistant", "a1, with a comma"] and first[6:8] == ["10", "5"]


def test_bulk_export_date_filters_cover_whole_days(tenant_a, chats):
    today = timezone.now().date()
    client = tenant_a.client()

    only_today = client.get("/v1/chat/export", {"from_date": today.isoformat(), "to_date": today.isoformat()})
    until_yesterday = client.get("/v1/chat/export", {"to_date": (today - dt.timedelta(days=1)).isoformat()})

    assert [e["chat"]["title"] for e in only_today.json()["chats"]] == ["third"]
    assert [e["chat"]["title"] for e in until_yesterday.json()["chats"]] == ["second", "first"]


@pytest.mark.parametrize(
    "params",
    [
        {"from_date": "2024-13-01"},
        {"to_date": "yesterday"},
        {"from_date": "2024-02-02", "to_date": "2024-02-01"},
        {"limit": "many"},
    ],
)
def test_bulk_export_bad_input_is_422(tenant_a, params):
    response = tenant_a.client().get("/v1/chat/export", params)

    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_bulk_export_limit(tenant_a, chats):
    body = tenant_a.client().get("/v1/chat/export", {"limit": 2}).json()
    assert [e["chat"]["title"] for e in body["chats"]] == ["third", "second"]


def _more_chats(tenant, count: int) -> None:
    with tenant_context(tenant):
        bot = BotFactory()
        for _ in range(count):
            _conversation(ChatFactory(bot_profile_id=bot.id))


# Requests cost: token lookup + tenant + user (auth), then the endpoint's own queries.
@pytest.mark.parametrize("extra_chats", [0, 8])
def test_list_and_export_query_counts_do_not_grow_with_chats(tenant_a, chats, extra_chats, django_assert_num_queries):
    _more_chats(tenant_a.tenant, extra_chats)
    client = tenant_a.client()
    client.get("/v1/chat")  # warm the token's last_used_at touch

    with django_assert_num_queries(_LIST_QUERIES):
        assert len(client.get("/v1/chat").json()) == 3 + extra_chats
    with django_assert_num_queries(_JSON_EXPORT_QUERIES):
        assert len(client.get("/v1/chat/export").json()["chats"]) == 3 + extra_chats
    with django_assert_num_queries(_CSV_EXPORT_QUERIES):
        body = b"".join(client.get("/v1/chat/export", {"format": "csv"}).streaming_content)
        assert body.count(b"\n") == 1 + 4 * (3 + extra_chats)


_LIST_QUERIES = 2
_JSON_EXPORT_QUERIES = 3
_CSV_EXPORT_QUERIES = 2


def test_chats_messages_and_feedback_of_tenant_a_are_unreachable_from_tenant_b(tenant_a, tenant_b, chats):
    chat = chats["first"]
    message = _assistant(tenant_a.tenant, chat)
    client = tenant_b.client()

    assert client.get("/v1/chat").json() == []
    assert client.get("/v1/chat/export").json()["chats"] == []
    for path in (f"/v1/chat/{chat.id}", f"/v1/chat/{chat.id}/messages", f"/v1/chat/{chat.id}/export"):
        assert client.get(path).status_code == 404
    response = client.patch(
        f"/v1/chat/{chat.id}/messages/{message.id}/feedback", {"feedback": "negative"}, format="json"
    )
    assert response.status_code == 404 and response.json() == {"detail": "Chat session not found"}
    with tenant_context(tenant_a.tenant):
        assert Message.objects.get(pk=message.pk).feedback is None
