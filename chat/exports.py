"""Chat exports as JSON or streamed CSV, with a fixed number of queries whatever the number of chats."""

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from uuid import UUID

from django.utils import timezone

from chat import selectors
from chat.models import Chat, Message
from minirag.tenancy import tenant_context

BULK_CSV_COLUMNS = [
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
CHAT_CSV_COLUMNS = BULK_CSV_COLUMNS[2:]
CSV_FETCH_SIZE = 2000


class _Echo:
    """A file-like whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(["" if value is None else _cell(value) for value in row])


def _cell(value) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def bulk_messages_query(*, bot_profile_id: UUID | None, from_date: dt.date | None, to_date: dt.date | None, limit: int):
    """One query: the messages (with their chat's title) of the newest `limit` matching chats."""
    chats = selectors.chats_for_export(bot_profile_id=bot_profile_id, from_date=from_date, to_date=to_date)
    chat_ids = chats.values("id")[:limit]
    return (
        Message.objects.filter(chat_id__in=chat_ids)
        .order_by("-chat__created_at", "chat_id", "created_at", "id")
        .values_list(
            "chat_id",
            "chat__title",
            "id",
            "role",
            "content",
            "feedback",
            "prompt_tokens",
            "completion_tokens",
            "created_at",
        )
    )


def bulk_csv_stream(*, tenant, **filters) -> Iterator[bytes]:
    """CSV lines of the bulk export, read with a server-side cursor (runs after the request: re-enter tenant)."""
    with tenant_context(tenant):
        rows = bulk_messages_query(**filters).iterator(chunk_size=CSV_FETCH_SIZE)
        for line in _csv_lines(BULK_CSV_COLUMNS, rows):
            yield line.encode()


def chat_csv(*, chat: Chat) -> str:
    rows = selectors.message_list(chat=chat).values_list(
        "id", "role", "content", "feedback", "prompt_tokens", "completion_tokens", "created_at"
    )
    return "".join(_csv_lines(CHAT_CSV_COLUMNS, rows))


def bulk_json(*, limit: int, bot_profile_id: UUID | None, from_date, to_date) -> tuple[list[Chat], dict]:
    """(chats, {chat_id: [messages]}) in two queries."""
    chats = list(
        selectors.chats_for_export(bot_profile_id=bot_profile_id, from_date=from_date, to_date=to_date)[:limit]
    )
    by_chat: dict = {chat.id: [] for chat in chats}
    if chats:
        for message in Message.objects.filter(chat_id__in=list(by_chat)).order_by("created_at", "id"):
            by_chat[message.chat_id].append(message)
    return chats, by_chat


def exported_at() -> dt.datetime:
    return timezone.now()
