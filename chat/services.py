"""The RAG orchestrator: one chat turn from the user's message to a stored, cited, accounted answer.

A turn has three steps, shared by the JSON and the streaming path:

1. `chat_turn_start` checks the bot (the tenant's, active) and the chat (the tenant's, same bot), loads the
   history *before* storing the new user message, then stores and commits it, so nothing the user typed is
   lost whatever happens next.
2. Retrieval and generation (`chat.answering`, persisting nothing): history-aware retrieval, the relevance
   floor, then LiteLLM through `minirag.integrations.llm`, the extractive zero-key mode for bots whose model
   is `extractive`, or the bot's `no_answer_message` when nothing relevant was found.
3. `turn_finish` stores the assistant message, its UsageEvent and the chat counters in one transaction, emits
   `chat.message` and (after the first exchange) schedules the title task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bots.selectors import bot_get
from chat import selectors
from chat.answering import Generated, answer_plan, chat_answer, llm_config_for, model_for, usage_payload
from chat.models import TITLE_MAX_CHARS, Chat, Feedback, Message, MessageRole
from chat.prompts import HistoryItem
from chat.streaming import AnswerStream, Delta, Failed, KeepAlive, Sources
from minirag import events
from minirag.errors import DomainError, InvalidInput, NotFound, UpstreamError
from minirag.integrations import llm
from minirag.tenancy import enqueue_on_commit
from usage.models import UsageKind
from usage.services import quota_admit_chat, usage_record

logger = logging.getLogger("minirag.chat")

BOT_NOT_FOUND = "Bot profile not found or inactive"
FEEDBACK_ASSISTANT_ONLY = "Feedback can only be set on assistant messages"
TITLE_PROMPT = (
    "Write a short title (at most 8 words) for a conversation that starts with the exchange below. "
    "Answer with the title only, without quotes or punctuation at the end."
)


@dataclass
class Turn:
    """A chat turn in progress: the user's message is already stored."""

    tenant: Any
    bot: Any
    chat: Chat
    user_message: Message
    history: list[HistoryItem]
    started: float = field(default_factory=time.monotonic)

    @property
    def is_first_exchange(self) -> bool:
        return not self.history

    @property
    def is_extractive(self) -> bool:
        return model_for(self.bot) == llm.EXTRACTIVE_MODEL


@dataclass
class Reply:
    chat: Chat
    message: Message
    sources: list[dict]
    usage: dict


def bot_for_chat(*, bot_id) -> Any:
    """The tenant's active bot, or NotFound("Bot profile not found or inactive")."""

    try:
        return bot_get(bot_id=bot_id, active_only=True)
    except NotFound:
        raise NotFound(BOT_NOT_FOUND) from None


# --- Step 1: start ----------------------------------------------------------------------------------


def chat_turn_start(
    *,
    tenant: Any,
    bot_id,
    message: str,
    chat_id=None,
    user_id: UUID | None = None,
    publishable_key_id: UUID | None = None,
) -> Turn:
    """Validate the bot and chat, load the history, store the user message (committed). Returns the turn.

    With `publishable_key_id` (a turn made with a publishable key) a new chat is marked as that key's and an
    existing one must be; `user_id` is then ignored. Raises NotFound for a missing/inactive bot or a chat that is
    not the tenant's, not this bot's, or (for a key) not this key's.
    """
    bot = bot_for_chat(bot_id=bot_id)
    if publishable_key_id is not None:
        user_id = None
    with transaction.atomic():
        if chat_id is not None:
            chat = selectors.chat_get(chat_id=chat_id, bot_profile_id=bot.id, publishable_key_id=publishable_key_id)
            history = selectors.chat_history(chat=chat)
        else:
            chat = Chat.objects.create(
                bot_profile_id=bot.id,
                user_id=user_id,
                publishable_key_id=publishable_key_id,
                title=message[:TITLE_MAX_CHARS],
            )
            history = []
        quota_admit_chat(tenant=tenant)  # 429 over the plan's tokens per month or chat requests per day
        user_message = Message.objects.create(chat=chat, role=MessageRole.USER, content=message)
        Chat.objects.filter(pk=chat.pk).update(message_count=F("message_count") + 1, updated_at=timezone.now())
    return Turn(tenant=tenant, bot=bot, chat=chat, user_message=user_message, history=history)


# --- Step 2: retrieve and generate: chat.answering (shared with evaluations) ----------------------------


# --- Step 3: finish ---------------------------------------------------------------------------------


@transaction.atomic
def turn_finish(*, turn: Turn, generated: Generated, chunks: Sequence[Any], sources: list[dict]) -> Message:
    """Store the assistant message, its UsageEvent and the chat counters together; emit `chat.message`."""
    message = Message.objects.create(
        chat=turn.chat,
        role=MessageRole.ASSISTANT,
        content=generated.content,
        prompt_tokens=generated.prompt_tokens,
        completion_tokens=generated.completion_tokens,
        context_chunks=[str(chunk.chunk_id) for chunk in chunks],
        sources=sources,
        is_complete=generated.is_complete,
    )
    _record_usage(turn=turn, generated=generated, message_id=message.id)
    Chat.objects.filter(pk=turn.chat.pk).update(
        message_count=F("message_count") + 1,
        total_prompt_tokens=F("total_prompt_tokens") + generated.prompt_tokens,
        total_completion_tokens=F("total_completion_tokens") + generated.completion_tokens,
        updated_at=timezone.now(),
    )
    events.emit(
        events.CHAT_MESSAGE,
        {"chat_id": str(turn.chat.id), "message_id": str(message.id), "bot_profile_id": str(turn.bot.id)},
    )
    return message


def turn_record_usage_only(*, turn: Turn, generated: Generated) -> None:
    """A call that produced no answer text (client left before the first token) still cost prompt tokens."""
    with transaction.atomic():
        _record_usage(turn=turn, generated=generated, message_id=None)
        Chat.objects.filter(pk=turn.chat.pk).update(
            total_prompt_tokens=F("total_prompt_tokens") + generated.prompt_tokens,
            total_completion_tokens=F("total_completion_tokens") + generated.completion_tokens,
            updated_at=timezone.now(),
        )


def _record_usage(*, turn: Turn, generated: Generated, message_id: UUID | None) -> None:
    usage_record(
        kind=UsageKind.CHAT,
        model=generated.model,
        prompt_tokens=generated.prompt_tokens,
        completion_tokens=generated.completion_tokens,
        bot_profile_id=turn.bot.id,
        chat_id=turn.chat.id,
        message_id=message_id,
        latency_ms=generated.latency_ms,
        time_to_first_token_ms=generated.time_to_first_token_ms,
        stream_duration_ms=generated.stream_duration_ms,
        is_stream=generated.is_stream,
    )


def turn_schedule_title(turn: Turn) -> None:
    """After the first exchange, have the bot's model title the chat in the background (not for extractive)."""
    if not turn.is_first_exchange or turn.is_extractive:
        return
    from chat.tasks import chat_generate_title  # chat.tasks imports this module

    # After commit, in this tenant's schema; a broker outage is logged and the fallback title stays.
    enqueue_on_commit(chat_generate_title, chat_id=str(turn.chat.id))


# --- The JSON path ----------------------------------------------------------------------------------


def chat_reply(*, turn: Turn) -> Reply:
    """Retrieve, generate (LLM or extractive) and store the answer. Provider failures raise sanitized
    UpstreamError / UpstreamTimeout; the user's message is already stored and stays.
    """
    answer = chat_answer(bot=turn.bot, message=turn.user_message.content, history=turn.history)
    message = turn_finish(turn=turn, generated=answer.generated, chunks=answer.chunks, sources=answer.sources)
    turn_schedule_title(turn)
    return Reply(chat=turn.chat, message=message, sources=answer.sources, usage=answer.usage)


# --- The streaming path ----------------------------------------------------------------------------

INTERNAL_ERROR = "Internal error while answering; please retry"
StreamEvent = tuple[str, dict | None]  # ("sources" | "delta" | "keepalive" | "done" | "error", data)


def turn_stream(turn: Turn) -> Iterator[StreamEvent]:
    """A turn's events, in the current schema: `sources`, `delta`*, then `done` (after the answer, its usage
    and the counters are committed) or `error`; `keepalive` while the model is silent.

    Closing the generator early (client gone) stores what was generated as an incomplete answer.
    """
    try:
        plan = answer_plan(bot=turn.bot, message=turn.user_message.content, history=turn.history)
    except DomainError as error:
        yield "error", {"detail": str(error.detail)}
        return
    stream = AnswerStream(plan, keepalive_seconds=settings.CHAT_STREAM_KEEPALIVE_SECONDS)
    finished = title_pending = False
    try:
        for event in stream.events():
            if isinstance(event, Sources):
                yield "sources", {"sources": event.sources}
            elif isinstance(event, Delta):
                yield "delta", {"content": event.content}
            elif isinstance(event, KeepAlive):
                yield "keepalive", None
            elif isinstance(event, Failed):
                finished = True
                if event.partial is not None:  # failed mid-answer: keep what was generated
                    _store_partial(turn, event.partial, plan.passages, stream.sources)
                yield "error", {"detail": event.detail}
            else:
                finished = True
                done = _store_streamed(turn, event.generated, plan.passages, stream.sources)
                title_pending = done[0] == "done"
                yield done
                title_pending = False
                # After `done` went out: in eager mode (no broker) the title call must not delay it.
                turn_schedule_title(turn)
    except GeneratorExit:
        if title_pending:  # the client left right after `done`
            turn_schedule_title(turn)
        if not finished:
            stream.close()
            partial = stream.partial()
            if partial is not None:
                _store_partial(turn, partial, plan.passages, stream.sources)
        raise


def _store_streamed(turn: Turn, generated: Generated, chunks, sources) -> StreamEvent:
    try:
        message = turn_finish(turn=turn, generated=generated, chunks=chunks, sources=sources)
    except Exception:
        logger.exception("storing the answer failed for chat %s", turn.chat.id)
        return "error", {"detail": INTERNAL_ERROR}
    return "done", {"chat_id": str(turn.chat.id), "message_id": str(message.id), "usage": usage_payload(generated)}


def _store_partial(turn: Turn, generated: Generated, chunks, sources) -> None:
    try:
        if generated.content:
            turn_finish(turn=turn, generated=generated, chunks=chunks, sources=sources)
        elif generated.prompt_tokens:
            turn_record_usage_only(turn=turn, generated=generated)
    except Exception:
        logger.exception("storing the partial answer failed for chat %s", turn.chat.id)


# --- Feedback, titles -------------------------------------------------------------------------------


def message_feedback_set(
    *, chat_id, message_id, feedback: str | None, publishable_key_id: UUID | None = None
) -> Message:
    """Set or clear (None) the feedback of an assistant message. 404s for a foreign chat or message (with
    `publishable_key_id`, for any chat that key did not start)."""
    chat = selectors.chat_get(chat_id=chat_id, publishable_key_id=publishable_key_id)
    message = selectors.message_get(chat=chat, message_id=message_id)
    if message.role != MessageRole.ASSISTANT:
        raise InvalidInput(FEEDBACK_ASSISTANT_ONLY)
    if feedback is not None and feedback not in Feedback.values:
        raise InvalidInput("feedback must be 'positive', 'negative' or null")
    message.feedback = feedback
    message.save(update_fields=["feedback"])
    return message


def _clean_title(text: str) -> str:
    title = " ".join(text.split()).strip().strip("\"'`*#").strip()
    if title.lower().startswith("title:"):
        title = title[6:].strip()
    return title.rstrip(".").strip()[:TITLE_MAX_CHARS]


def chat_title_generate(*, chat_id) -> Chat:
    """Title the chat from its first exchange with the bot's model; records a `title` UsageEvent.

    Raises UpstreamError on provider failure (the fallback title — the first 100 characters — stays).
    """
    chat = selectors.chat_get(chat_id=chat_id)

    bot = bot_get(bot_id=chat.bot_profile_id)
    if model_for(bot) == llm.EXTRACTIVE_MODEL:
        return chat
    first = list(selectors.message_list(chat=chat).values_list("role", "content")[:2])
    exchange = "\n".join(f"{role}: {content[:2000]}" for role, content in first)
    completion = llm.complete(
        config=llm_config_for(bot, max_tokens=32, temperature=0.2),
        messages=[{"role": "system", "content": TITLE_PROMPT}, {"role": "user", "content": exchange}],
    )
    usage_record(
        kind=UsageKind.TITLE,
        model=completion.model,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        bot_profile_id=bot.id,
        chat_id=chat.id,
        latency_ms=completion.latency_ms,
    )
    title = _clean_title(completion.content)
    if title:
        Chat.objects.filter(pk=chat.pk).update(title=title)
        chat.title = title
    return chat


def is_transient(error: UpstreamError) -> bool:
    return error.detail in (llm.RATE_LIMITED, llm.TIMED_OUT, llm.PROVIDER_ERROR)
