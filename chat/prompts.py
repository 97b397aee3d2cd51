"""Prompt assembly: the bot's system prompt, numbered context passages, the history window, the message.

The history window is a token budget: what is left of the model's context window (LiteLLM's model info,
CHAT_DEFAULT_CONTEXT_TOKENS when unknown) after the answer's `max_tokens`, the system prompt with its
passages and the new message. The newest turns are kept.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minirag.integrations import llm

CONTEXT_HEADING = "Context passages from the knowledge base:"
CITE_INSTRUCTION = (
    "Answer using the numbered context passages above. Cite every passage you use with its number in square "
    "brackets, like [1] or [2][3]. If the passages do not contain the answer, do not guess: reply exactly "
    '"{no_answer}"'
)
NO_CONTEXT_NOTE = (
    "No passage of the knowledge base matched this message. You may greet or answer small talk, but for any "
    'question you cannot answer from the knowledge base, do not guess: reply exactly "{no_answer}"'
)
DEFAULT_NO_ANSWER = "I couldn't find this in the knowledge base."
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
# Room kept free for the chat format's own tokens and counting differences between tokenizers.
SAFETY_MARGIN_TOKENS = 128
DEFAULT_ANSWER_TOKENS = 1024


@dataclass(frozen=True)
class HistoryItem:
    role: str
    content: str


def passage_label(chunk: Any) -> str:
    """ "Handbook › IT › Lost devices, page 3": the source (or its heading path) and the page."""
    label = getattr(chunk, "section", None) or getattr(chunk, "source_name", None) or "unknown source"
    page = getattr(chunk, "page", None)
    return f"{label}, page {page}" if page else label


def system_message(*, system_prompt: str, chunks: Sequence[Any], no_answer: str = DEFAULT_NO_ANSWER) -> str:
    base = (system_prompt or DEFAULT_SYSTEM_PROMPT).strip()
    if not chunks:
        return f"{base}\n\n{NO_CONTEXT_NOTE.format(no_answer=no_answer)}"
    passages = "\n\n".join(
        f"[{number}] (source: {passage_label(chunk)})\n{chunk.content}" for number, chunk in enumerate(chunks, 1)
    )
    instruction = CITE_INSTRUCTION.format(no_answer=no_answer)
    return f"{base}\n\n---\n{CONTEXT_HEADING}\n\n{passages}\n---\n{instruction}"


def history_budget(*, model: str, max_tokens: int | None, fixed_messages: list[dict]) -> int:
    window = llm.context_window(model)
    reserved = (max_tokens or DEFAULT_ANSWER_TOKENS) + SAFETY_MARGIN_TOKENS
    return window - reserved - llm.count_message_tokens(fixed_messages)


def fit_history(history: Sequence[HistoryItem], budget: int) -> list[HistoryItem]:
    """The newest items whose tokens fit in `budget`, in chronological order."""
    kept: list[HistoryItem] = []
    used = 0
    for item in reversed(history):
        cost = llm.count_tokens(item.content) + llm.MESSAGE_OVERHEAD_TOKENS
        if used + cost > budget:
            break
        kept.append(item)
        used += cost
    kept.reverse()
    return kept


def build_messages(
    *,
    model: str,
    system_prompt: str,
    max_tokens: int | None,
    chunks: Sequence[Any],
    history: Sequence[HistoryItem],
    message: str,
    no_answer: str = DEFAULT_NO_ANSWER,
) -> list[dict]:
    system = {
        "role": "system",
        "content": system_message(system_prompt=system_prompt, chunks=chunks, no_answer=no_answer),
    }
    user = {"role": "user", "content": message}
    budget = history_budget(model=model, max_tokens=max_tokens, fixed_messages=[system, user])
    window = fit_history(history, budget) if budget > 0 else []
    return [system, *({"role": item.role, "content": item.content} for item in window), user]
