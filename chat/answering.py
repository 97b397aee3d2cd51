"""One answer to one message, persisting nothing: history-aware retrieval, the relevance floor, generation.

Used by chat turns (chat.services, chat.streaming) and by evaluations (chat.evaluation), so both measure the
same thing.

- Follow-ups: a short or anaphoric message ("and for contractors?", "how long does it take?") is retrieved
  together with the recent user turns. LLM bots first condense it into a standalone question with their own
  model (usage kind `condense`); extractive bots add the last turns' terms at lower weight.
- The floor: retrieval always returns its best passages, relevant or not. A passage must cover enough of the
  question's terms (analysed like the index does) to be used. When none does, an extractive bot answers with
  its `no_answer_message`; an LLM bot gets no passages and the instruction to answer with that message
  verbatim rather than guess (it can still greet or make small talk).
- Citations: extractive answers cite each quoted sentence, with that sentence as the snippet; LLM answers cite
  numbered passages, each shown by its sentences closest to the question.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from bots.services import bot_credentials
from chat.extractive import (
    Analyzer,
    Composition,
    QuestionTerms,
    best_sentences,
    compose,
    passage_coverage,
    question_terms,
)
from chat.prompts import DEFAULT_NO_ANSWER, HistoryItem, build_messages
from minirag.encryption import DecryptionError
from minirag.errors import DomainError, ServiceUnavailable, UpstreamError
from minirag.integrations import llm
from sources.pipeline import lexical
from sources.pipeline.chunking import section_at
from sources.pipeline.ingest import effective_embedding_model
from sources.retrieval import retrieve
from usage.models import UsageKind
from usage.services import usage_record

logger = logging.getLogger("minirag.chat")

RETRIEVAL_UNAVAILABLE = "Knowledge retrieval is temporarily unavailable; please retry"
# LLM bots get passages covering at least this share of the question (the model judges the rest).
LLM_PASSAGE_FLOOR = 0.3
FOLLOW_UP_MAX_TERMS = 4
FOLLOW_UP_CONTEXT_TURNS = 2
FOLLOW_UP_CONTEXT_CHARS = 600
SNIPPET_CHARS = 300
CONDENSE_PROMPT = (
    "Rewrite the user's last message as one standalone question that can be understood without the "
    "conversation: resolve pronouns and references, keep names, numbers and the user's language. Reply with "
    "the question only."
)
_FOLLOW_UP_OPENERS = re.compile(
    r"^\s*(and|but|also|what about|how about|and what|what if|why|so|then|ok|okay)\b", re.IGNORECASE
)
_ANAPHORIC = re.compile(r"\b(it|its|this|that|these|those|they|them|their|there|he|she|him|her|one|ones)\b", re.I)


@dataclass
class Generated:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int | None = None
    time_to_first_token_ms: int | None = None
    stream_duration_ms: int | None = None
    is_stream: bool = False
    is_complete: bool = True


@dataclass
class Plan:
    """What the answer will be built from: the retrieval question and the passages that passed the floor."""

    bot: Any
    message: str
    history: Sequence[HistoryItem]
    search_text: str  # what was retrieved for (the message, or its standalone form for a follow-up)
    question: QuestionTerms
    analyze: Analyzer
    retrieved: list[Any]
    passages: list[Any]
    composition: Composition | None = None  # extractive bots: composed with the plan

    @property
    def no_answer_message(self) -> str:
        return (getattr(self.bot, "no_answer_message", "") or DEFAULT_NO_ANSWER).strip()

    @property
    def is_extractive(self) -> bool:
        return model_for(self.bot) == llm.EXTRACTIVE_MODEL

    @property
    def knows_nothing(self) -> bool:
        """True when an extractive bot found nothing to quote (LLM bots are told what to say instead)."""
        return self.is_extractive and (self.composition is None or self.composition.no_answer)


@dataclass
class Answer:
    content: str
    no_answer: bool
    chunks: list[Any]  # the passages the answer was built from
    sources: list[dict]  # what [n] cites, in order
    generated: Generated

    @property
    def usage(self) -> dict:
        return usage_payload(self.generated)


def model_for(bot: Any) -> str:
    return (bot.model or settings.DEFAULT_LLM_MODEL).strip()


def llm_config_for(bot: Any, *, max_tokens: int | None = None, temperature: float | None = None) -> llm.LLMConfig:
    """The bot's model and decrypted credentials; provider keys come from the environment otherwise."""
    try:
        credentials = bot_credentials(bot)
    except DecryptionError:
        logger.error("credentials of bot %s cannot be decrypted with the configured keys", bot.id)
        raise ServiceUnavailable("Bot credentials cannot be decrypted; contact the operator") from None
    return llm.LLMConfig(
        model=model_for(bot),
        api_key=credentials.get("api_key") or None,
        api_base=credentials.get("api_base") or None,
        api_version=credentials.get("api_version") or None,
        temperature=bot.temperature if temperature is None else temperature,
        max_tokens=max_tokens or bot.max_tokens,
    )


def analyzer_for(bot: Any) -> Analyzer:
    language = getattr(bot, "language", None) or "english"

    def analyze(text: str) -> list[str]:
        return lexical.analyze(text, language=language)

    return analyze


def usage_payload(generated: Generated) -> dict:
    return {
        "model": generated.model,
        "prompt_tokens": generated.prompt_tokens,
        "completion_tokens": generated.completion_tokens,
        "total_tokens": generated.prompt_tokens + generated.completion_tokens,
    }


# --- follow-ups -----------------------------------------------------------------------------------------


def is_follow_up(message: str, analyze: Analyzer) -> bool:
    """A message that probably leans on the conversation: few searchable words, or a reference to it."""
    if len(set(analyze(message))) <= FOLLOW_UP_MAX_TERMS and (
        _ANAPHORIC.search(message) or _FOLLOW_UP_OPENERS.match(message) or len(set(analyze(message))) <= 2
    ):
        return True
    return bool(_FOLLOW_UP_OPENERS.match(message)) and len(message) < 80


def recent_user_turns(history: Sequence[HistoryItem]) -> str:
    turns = [item.content for item in history if item.role == "user"][-FOLLOW_UP_CONTEXT_TURNS:]
    return "\n".join(turn[:FOLLOW_UP_CONTEXT_CHARS] for turn in turns)


def condensed_question(*, bot: Any, message: str, history: Sequence[HistoryItem]) -> str | None:
    """The follow-up rewritten as a standalone question by the bot's model (None when the call fails)."""

    window = [
        {"role": item.role, "content": item.content[:2000]} for item in list(history)[-2 * FOLLOW_UP_CONTEXT_TURNS :]
    ]
    messages = [{"role": "system", "content": CONDENSE_PROMPT}, *window, {"role": "user", "content": message}]
    try:
        completion = llm.complete(config=llm_config_for(bot, max_tokens=128, temperature=0.0), messages=messages)
    except (UpstreamError, DomainError) as error:
        logger.warning("condensing a follow-up failed for bot %s (%s); using the recent turns", bot.pk, error)
        return None
    usage_record(
        kind=UsageKind.CONDENSE,
        model=completion.model,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        bot_profile_id=bot.pk,
        latency_ms=completion.latency_ms,
    )
    question = " ".join(completion.content.split())[:1000]
    return question or None


# --- the plan -------------------------------------------------------------------------------------------


def _retrieve(bot: Any, text: str) -> list[Any]:
    try:
        return list(retrieve(bot=bot, query=text))
    except DomainError:
        raise
    except Exception:  # index down, corrupt index…: never a raw error text
        logger.exception("retrieval failed for bot %s", bot.pk)
        raise ServiceUnavailable(RETRIEVAL_UNAVAILABLE) from None


def answer_plan(*, bot: Any, message: str, history: Sequence[HistoryItem] = ()) -> Plan:
    """Retrieve for the message (with the conversation for a follow-up) and keep the passages that are
    relevant enough. Raises ServiceUnavailable when the knowledge index is down."""
    analyze = analyzer_for(bot)
    extractive = model_for(bot) == llm.EXTRACTIVE_MODEL
    search_text, context = message, ""
    if history and is_follow_up(message, analyze):
        standalone = None if extractive else condensed_question(bot=bot, message=message, history=history)
        if standalone:
            search_text = standalone
        else:
            context = recent_user_turns(history)
            search_text = f"{message}\n{context}"
    # A condensed follow-up is the question; otherwise the message, with the recent turns at lower weight.
    question = question_terms(message if context or search_text == message else search_text, analyze, context=context)
    retrieved = _retrieve(bot, search_text)
    plan = Plan(bot, message, history, search_text, question, analyze, retrieved, passages=[])
    if extractive:
        plan.composition = compose(
            question=question, chunks=retrieved, analyze=analyze, no_answer_message=plan.no_answer_message
        )
        plan.passages = _distinct([quote.chunk for quote in plan.composition.quotes])
    elif _has_dense_leg(bot):
        plan.passages = retrieved  # semantic matches need not share words with the question
    else:
        plan.passages = [c for c in retrieved if passage_coverage(c, question, analyze) >= LLM_PASSAGE_FLOOR]
    return plan


def _has_dense_leg(bot: Any) -> bool:
    return bool(effective_embedding_model(bot))


def _distinct(chunks: Sequence[Any]) -> list[Any]:
    seen, result = set(), []
    for chunk in chunks:
        if chunk.chunk_id not in seen:
            seen.add(chunk.chunk_id)
            result.append(chunk)
    return result


# --- sources payloads -----------------------------------------------------------------------------------


def _quote_section(chunk: Any, quote: str) -> str:
    """The heading path the quoted text sits under (a chunk can span several sections)."""
    section = getattr(chunk, "section", "") or ""
    content = chunk.content or ""
    offset = content.find(quote[:40])
    if offset <= 0:
        return section
    return section_at(section, content, offset)


def _source(chunk: Any, snippet: str, section: str | None = None) -> dict:
    return {
        "chunk_id": str(chunk.chunk_id),
        "content": snippet,
        "score": round(float(chunk.score), 4),
        "source_id": str(chunk.source_id),
        "source_name": chunk.source_name,
        "page": chunk.page,
        "section": section if section is not None else getattr(chunk, "section", "") or "",
    }


def plan_sources(plan: Plan) -> list[dict]:
    """What clients see: `sources[n-1]` is what `[n]` cites, with the cited sentences as `content`."""
    if plan.knows_nothing:
        return []
    if plan.composition is not None:
        return [
            _source(quote.chunk, quote.text, _quote_section(quote.chunk, quote.text))
            for quote in plan.composition.quotes
        ]
    return [
        _source(
            chunk, best_sentences(chunk=chunk, question=plan.question, analyze=plan.analyze, limit_chars=SNIPPET_CHARS)
        )
        for chunk in plan.passages
    ]


# --- generation -----------------------------------------------------------------------------------------


def fixed_reply(plan: Plan, text: str) -> Generated:
    """An extractive answer (quotes, or "I don't know"), with locally counted tokens."""
    prompt_tokens = llm.count_tokens(plan.message) + sum(llm.count_tokens(c.content) for c in plan.passages)
    return Generated(
        content=text,
        model=llm.EXTRACTIVE_MODEL,
        prompt_tokens=prompt_tokens,
        completion_tokens=llm.count_tokens(text),
        latency_ms=0,
    )


def plan_reply_without_model(plan: Plan) -> Generated | None:
    """The reply of an extractive bot (no model call); None for LLM bots."""
    if plan.knows_nothing:
        return fixed_reply(plan, plan.no_answer_message)
    if plan.composition is not None:
        started = time.monotonic()
        generated = fixed_reply(plan, plan.composition.text)
        generated.latency_ms = int((time.monotonic() - started) * 1000)
        return generated
    return None


def plan_messages(plan: Plan) -> list[dict]:
    return build_messages(
        model=model_for(plan.bot),
        system_prompt=plan.bot.system_prompt,
        max_tokens=plan.bot.max_tokens,
        chunks=plan.passages,
        history=plan.history,
        message=plan.message,
        no_answer=plan.no_answer_message,
    )


def says_no_answer(plan: Plan, content: str) -> bool:
    """Whether a reply is the bot's "I don't know" (the model was told to answer with it verbatim)."""
    if plan.knows_nothing:
        return True

    def norm(text: str) -> str:
        return " ".join(re.findall(r"\w+", text.lower()))

    expected = norm(plan.no_answer_message)
    return bool(expected) and norm(content).startswith(expected)


def chat_answer(*, bot: Any, message: str, history: Sequence[HistoryItem] = ()) -> Answer:
    """A complete answer to `message` (JSON path; nothing stored). Provider failures raise sanitized
    UpstreamError / UpstreamTimeout; an unavailable index raises ServiceUnavailable."""
    plan = answer_plan(bot=bot, message=message, history=history)
    generated = plan_reply_without_model(plan)
    if generated is None:
        completion = llm.complete(config=llm_config_for(plan.bot), messages=plan_messages(plan))
        generated = Generated(
            content=completion.content,
            model=completion.model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=completion.latency_ms,
        )
    return Answer(
        content=generated.content,
        no_answer=says_no_answer(plan, generated.content),
        chunks=plan.passages,
        sources=plan_sources(plan),
        generated=generated,
    )


__all__ = ["Answer", "Generated", "Plan", "answer_plan", "chat_answer", "plan_messages", "plan_sources"]
