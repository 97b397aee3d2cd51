"""Server-sent events for a chat turn, framed exactly like the reference:

    event: sources\\ndata: {"sources": [...]}\\n\\n          always first, before the model is called
    event: delta\\ndata: {"content": "..."}\\n\\n             once per non-empty provider chunk
    event: done\\ndata: {"chat_id", "message_id", "usage"}\\n\\n   after message, usage and counters committed
    event: error\\ndata: {"detail": "..."}\\n\\n              sanitized, ends the stream

`data` is `json.dumps` with its default separators. While the model is silent a comment line
(`: keep-alive`) goes out every CHAT_STREAM_KEEPALIVE_SECONDS so proxies keep the connection open; the
provider is read in a helper thread so the response thread can send those.

If the client goes away, the WSGI server closes this generator (GeneratorExit at the pending `yield`): the
provider stream is closed and what was generated is stored as an incomplete assistant message with its usage
(counted locally). The user's message was committed before the stream started.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from chat import answering, services
from chat.answering import Generated, Plan
from chat.extractive import answer_pieces
from chat.services import Turn
from minirag.errors import DomainError, UpstreamError
from minirag.integrations import llm
from minirag.tenancy import tenant_context

logger = logging.getLogger("minirag.chat")

KEEPALIVE = b": keep-alive\n\n"
INTERNAL_ERROR = "Internal error while answering; please retry"


def sse_event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


class LLMPump:
    """Reads a provider stream in a daemon thread into a queue (the response thread waits with a timeout)."""

    def __init__(self, *, config: llm.LLMConfig, messages: list[dict]):
        self.stream = llm.CompletionStream(config=config, messages=messages)
        self.queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chat-llm-stream", daemon=True)

    def start(self) -> LLMPump:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.stream.open()
            self.opened.set()
            for piece in self.stream:
                self.queue.put(("delta", piece))
            self.queue.put(("end", None))
        except UpstreamError as error:
            self.queue.put(("error", error))
        except Exception as error:  # noqa: BLE001 - anything unexpected is still sanitized
            self.queue.put(("error", llm.sanitize(error)))

    def events(self, keepalive_seconds: float) -> Iterator[tuple[str, Any]]:
        while True:
            try:
                kind, value = self.queue.get(timeout=keepalive_seconds)
            except queue.Empty:
                yield "keepalive", None
                continue
            yield kind, value
            if kind in ("end", "error"):
                return

    def cancel(self, wait_seconds: float = 2.0) -> None:
        self.stream.close()
        self._thread.join(wait_seconds)


def _generated(stream: llm.CompletionStream, *, complete: bool) -> Generated:
    return Generated(
        content=stream.content,
        model=stream.model,
        prompt_tokens=stream.prompt_tokens,
        completion_tokens=stream.completion_tokens,
        latency_ms=stream.duration_ms,
        time_to_first_token_ms=stream.time_to_first_token_ms,
        stream_duration_ms=stream.duration_ms,
        is_stream=True,
        is_complete=complete,
    )


Event = tuple[str, Any]  # (name, data); ("keepalive", None) while the model is silent


def turn_events(turn: Turn) -> Iterator[bytes]:
    """The SSE byte stream of a turn. Runs after the request's middleware reset the schema: re-enter it."""
    with tenant_context(turn.tenant):
        for name, data in turn_stream(turn):
            yield KEEPALIVE if name == "keepalive" else sse_event(name, data)


def _done_event(turn: Turn, message_id, generated: Generated) -> Event:
    return (
        "done",
        {"chat_id": str(turn.chat.id), "message_id": str(message_id), "usage": answering.usage_payload(generated)},
    )


def _error(detail: str) -> Event:
    return ("error", {"detail": detail})


def turn_stream(turn: Turn) -> Iterator[Event]:
    """A turn's events in the current schema: `sources`, `delta`*, then `done` or `error`.

    Closing the generator early (client gone) stores what was generated as an incomplete answer.
    """
    try:
        plan = answering.answer_plan(bot=turn.bot, message=turn.user_message.content, history=turn.history)
    except DomainError as error:
        yield _error(str(error.detail))
        return
    sources = answering.plan_sources(plan)
    yield ("sources", {"sources": sources})
    generated = answering.plan_reply_without_model(plan)
    if generated is not None:
        yield from _fixed_events(turn, generated, plan.passages, sources)
    else:
        yield from _llm_events(turn, plan, sources)


def _finish(turn: Turn, generated: Generated, chunks, sources) -> Event:
    try:
        message = services.turn_finish(turn=turn, generated=generated, chunks=chunks, sources=sources)
    except Exception:
        logger.exception("storing the answer failed for chat %s", turn.chat.id)
        return _error(INTERNAL_ERROR)
    return _done_event(turn, message.id, generated)


def _save_partial(turn: Turn, generated: Generated, chunks, sources) -> None:
    try:
        if generated.content:
            services.turn_finish(turn=turn, generated=generated, chunks=chunks, sources=sources)
        elif generated.prompt_tokens:
            services.turn_record_usage_only(turn=turn, generated=generated)
    except Exception:
        logger.exception("storing the partial answer failed for chat %s", turn.chat.id)


def _fixed_events(turn: Turn, generated: Generated, chunks, sources) -> Iterator[Event]:
    """An answer written without a model call (extractive, or "I don't know"), sent word by word."""
    generated.is_stream = True
    started = time.monotonic()
    sent: list[str] = []
    finished = False
    try:
        for piece in answer_pieces(generated.content):
            if not sent:
                generated.time_to_first_token_ms = int((time.monotonic() - started) * 1000)
            sent.append(piece)
            yield ("delta", {"content": piece})
        generated.stream_duration_ms = int((time.monotonic() - started) * 1000)
        finished = True
        yield _finish(turn, generated, chunks, sources)
    except GeneratorExit:
        if not finished:
            generated.content = "".join(sent)
            generated.completion_tokens = llm.count_tokens(generated.content)
            generated.is_complete = False
            _save_partial(turn, generated, chunks, sources)
        raise


def _llm_events(turn: Turn, plan: Plan, sources) -> Iterator[Event]:
    chunks = plan.passages
    try:
        config = answering.llm_config_for(turn.bot)
        messages = answering.plan_messages(plan)
    except DomainError as error:
        yield _error(str(error.detail))
        return
    pump = LLMPump(config=config, messages=messages).start()
    finished = title_pending = False
    try:
        for kind, value in pump.events(settings.CHAT_STREAM_KEEPALIVE_SECONDS):
            if kind == "keepalive":
                yield ("keepalive", None)
            elif kind == "delta":
                yield ("delta", {"content": value})
            elif kind == "error":
                finished = True
                if pump.stream.content:  # failed mid-answer: keep what was generated
                    _save_partial(turn, _generated(pump.stream, complete=False), chunks, sources)
                yield _error(str(value.detail))
                return
            else:  # end
                finished = True
                event = _finish(turn, _generated(pump.stream, complete=True), chunks, sources)
                title_pending = event[0] == "done"
                yield event
                title_pending = False
                # After `done` went out: in eager mode (no broker) the title call must not delay it.
                services.turn_schedule_title(turn)
                return
    except GeneratorExit:
        if title_pending:  # the client left right after `done`
            services.turn_schedule_title(turn)
        if not finished:
            pump.cancel()
            generated = _generated(pump.stream, complete=False)
            if not pump.opened.is_set():
                generated.prompt_tokens = 0  # the provider never accepted the request
            _save_partial(turn, generated, chunks, sources)
        raise
