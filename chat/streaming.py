"""A streamed answer as typed events, persisting nothing (chat.services stores it; chat.api.sse frames it).

    Sources      always first, before any model is called
    Delta        once per non-empty piece of the answer
    KeepAlive    every `keepalive_seconds` while the model is silent
    Finished     the whole answer (`Generated`)           } exactly one of these ends the stream
    Failed       a sanitized detail, and what was generated before the failure (if anything)

The provider is read in a helper thread so the consumer can send keep-alives while it waits. A consumer that
stops early calls `close()` (the provider stream is closed) and may store `partial()`, what was generated so
far, marked incomplete.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chat.answering import Generated, Plan, llm_config_for, plan_messages, plan_reply_without_model, plan_sources
from chat.extractive import answer_pieces
from minirag.errors import DomainError, UpstreamError
from minirag.integrations import llm


@dataclass(frozen=True)
class Sources:
    sources: list[dict]


@dataclass(frozen=True)
class Delta:
    content: str


@dataclass(frozen=True)
class KeepAlive:
    pass


@dataclass(frozen=True)
class Finished:
    generated: Generated


@dataclass(frozen=True)
class Failed:
    detail: str
    partial: Generated | None = None  # what the model produced before failing, if anything


Event = Sources | Delta | KeepAlive | Finished | Failed


class LLMPump:
    """Reads a provider stream in a daemon thread into a queue (the consumer waits with a timeout)."""

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

    def generated(self, *, complete: bool) -> Generated:
        stream = self.stream
        generated = Generated(
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
        if not self.opened.is_set():
            generated.prompt_tokens = 0  # the provider never accepted the request
        return generated

    def cancel(self, wait_seconds: float = 2.0) -> None:
        self.stream.close()
        self._thread.join(wait_seconds)


class AnswerStream:
    """The events of one planned answer (see the module docstring)."""

    def __init__(self, plan: Plan, *, keepalive_seconds: float):
        self.plan = plan
        self.keepalive_seconds = keepalive_seconds
        self.sources = plan_sources(plan)
        self._pump: LLMPump | None = None
        self._fixed: Generated | None = None
        self._sent: list[str] = []
        self._started = time.monotonic()

    def events(self) -> Iterator[Event]:
        yield Sources(self.sources)
        fixed = plan_reply_without_model(self.plan)
        if fixed is not None:
            yield from self._fixed_events(fixed)
        else:
            yield from self._llm_events()

    def _fixed_events(self, generated: Generated) -> Iterator[Event]:
        """An answer written without a model call (extractive, or "I don't know"), sent word by word."""
        generated.is_stream = True
        self._fixed = generated
        for piece in answer_pieces(generated.content):
            if not self._sent:
                generated.time_to_first_token_ms = int((time.monotonic() - self._started) * 1000)
            self._sent.append(piece)
            yield Delta(piece)
        generated.stream_duration_ms = int((time.monotonic() - self._started) * 1000)
        yield Finished(generated)

    def _llm_events(self) -> Iterator[Event]:
        try:
            config = llm_config_for(self.plan.bot)
            messages = plan_messages(self.plan)
        except DomainError as error:
            yield Failed(str(error.detail))
            return
        pump = self._pump = LLMPump(config=config, messages=messages).start()
        for kind, value in pump.events(self.keepalive_seconds):
            if kind == "keepalive":
                yield KeepAlive()
            elif kind == "delta":
                yield Delta(value)
            elif kind == "error":
                partial = pump.generated(complete=False) if pump.stream.content else None
                yield Failed(str(value.detail), partial)
                return
            else:
                yield Finished(pump.generated(complete=True))
                return

    def close(self) -> None:
        """Stop early: the provider stream (if any) is closed."""
        if self._pump is not None:
            self._pump.cancel()

    def partial(self) -> Generated | None:
        """What was generated before the consumer stopped, marked incomplete (None before anything)."""
        if self._pump is not None:
            return self._pump.generated(complete=False)
        if self._fixed is not None:
            generated = self._fixed
            generated.content = "".join(self._sent)
            generated.completion_tokens = llm.count_tokens(generated.content)
            generated.is_complete = False
            return generated
        return None
