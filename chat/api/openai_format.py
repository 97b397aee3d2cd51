"""OpenAI's wire shapes for the OpenAI-compatible API: errors, completions, and the `chat.completion.chunk` stream.

Errors: `{"error": {"message", "type", "param", "code"}}`, with OpenAI's statuses (validation is 400, not the
rest of the API's 422). The API's exception handler decides the status and message as for any view, then the
views of this API reshape the body through `error_response` (their `error_format` hook).

Streams (`stream: true`) are `data: <JSON>` events without event names, as OpenAI sends them:

    data: {"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant", "content": ""}}]}
    data: {... "choices": [{"delta": {"content": "Refunds are "}}]}                  once per piece of the answer
    data: {... "choices": [{"delta": {}, "finish_reason": "stop"}], "minirag": {...}}  after the answer is stored
    data: {... "choices": [], "usage": {...}}                     only with stream_options.include_usage
    data: [DONE]

A failure once the stream has started is one `data: {"error": {...}}` event, then `data: [DONE]`. Comment lines
(`: keep-alive`) go out while the model is silent; SSE clients skip them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field

from rest_framework.response import Response

from chat import services
from chat.services import Turn
from minirag.errors import QuotaExceeded
from minirag.tenancy import tenant_context

KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"

# status → (type, code) of OpenAI's error body; the first matching entry wins.
_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    409: ("invalid_request_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    502: ("api_error", "upstream_error"),
    503: ("api_error", "service_unavailable"),
    504: ("api_error", "upstream_timeout"),
}


def error_body(message: str, *, type: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _validation_message(items: list) -> tuple[str, str | None]:
    """The first validation problem as (message, param): `{"loc": ["body", "messages", 2, "content"], ...}` →
    ("Invalid 'messages.2.content': ...", "messages.2.content")."""
    first = items[0] if items and isinstance(items[0], dict) else {}
    location = [str(part) for part in first.get("loc", [])[1:]]
    param = ".".join(location) or None
    message = str(first.get("msg") or "Invalid request")
    return (f"Invalid '{param}': {message}" if param else message), param


def error_response(response: Response, exc: BaseException) -> Response:
    """Reshape an error answer of the API's exception handler into OpenAI's: same headers, OpenAI's status."""
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    status = 400 if response.status_code == 422 else response.status_code
    param = None
    if isinstance(detail, list):
        message, param = _validation_message(detail)
    else:
        message = str(detail or "Error")
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    code = getattr(exc, "openai_code", None) or code
    if isinstance(exc, QuotaExceeded) and status == 429:
        kind, code = "insufficient_quota", "insufficient_quota"
    response.status_code = status
    response.data = error_body(message, type=kind, code=code, param=param)
    return response


# --- Completions -----------------------------------------------------------------------------------------------


@dataclass
class Completion:
    """What every answer and chunk of one completion share."""

    model: str
    answer_tokens: int | None = None  # the effective max_tokens of an LLM bot (None: no cap to report)
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def finish_reason(self, completion_tokens: int) -> str:
        capped = self.answer_tokens is not None and completion_tokens >= self.answer_tokens
        return "length" if capped else "stop"

    def payload(self, *, content: str, usage: dict, chat_id, message_id, sources: list[dict]) -> dict:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": self.finish_reason(usage["completion_tokens"]),
                    "logprobs": None,
                }
            ],
            "usage": token_usage(usage),
            "minirag": extension(chat_id=chat_id, message_id=message_id, sources=sources),
        }

    def chunk(self, delta: dict | None = None, *, finish_reason: str | None = None, **extra) -> dict:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }


def token_usage(usage: dict) -> dict:
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
    }


def extension(*, chat_id, message_id, sources: list[dict]) -> dict:
    """MiniRAG's additions (standard clients ignore unknown fields): the stored chat and answer, the citations."""
    return {"chat_id": str(chat_id), "message_id": str(message_id), "sources": sources}


def _data(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def completion_stream(turn: Turn, completion: Completion, *, include_usage: bool) -> Iterator[bytes]:
    """The turn as OpenAI chunks (see the module docstring). Runs after the request's middleware reset the schema:
    re-enter it. Closing it early (client gone) stores what was generated, as chat.services.turn_stream does."""
    # closing(): a client that leaves closes the turn's stream here, still in the tenant's schema.
    with tenant_context(turn.tenant), closing(services.turn_stream(turn)) as events:
        yield _data(completion.chunk({"role": "assistant", "content": ""}))
        sources: list[dict] = []
        for name, data in events:
            if name == "sources":
                sources = data["sources"]
            elif name == "delta":
                yield _data(completion.chunk({"content": data["content"]}))
            elif name == "keepalive":
                yield KEEPALIVE
            elif name == "done":
                usage = data["usage"]
                ext = extension(chat_id=data["chat_id"], message_id=data["message_id"], sources=sources)
                finish = completion.finish_reason(usage["completion_tokens"])
                yield _data(completion.chunk({}, finish_reason=finish, minirag=ext))
                if include_usage:
                    yield _data(completion.chunk(None, usage=token_usage(usage)))
            else:  # "error": the turn stream ends with it
                yield _data(error_body(data["detail"], type="api_error", code="stream_error"))
        yield DONE
