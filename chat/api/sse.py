"""Server-sent events framing for a chat turn, exactly like the reference:

    event: sources\\ndata: {"sources": [...]}\\n\\n          always first, before the model is called
    event: delta\\ndata: {"content": "..."}\\n\\n             once per non-empty provider chunk
    event: done\\ndata: {"chat_id", "message_id", "usage"}\\n\\n   after message, usage and counters committed
    event: error\\ndata: {"detail": "..."}\\n\\n              sanitized, ends the stream

`data` is `json.dumps` with its default separators. While the model is silent a comment line
(`: keep-alive`) goes out every CHAT_STREAM_KEEPALIVE_SECONDS so proxies keep the connection open.

If the client goes away, the WSGI server closes this generator (GeneratorExit at the pending `yield`), which
closes the turn's stream: what was generated is stored as an incomplete answer (chat.services.turn_stream).
"""

import json
from collections.abc import Iterator

from chat import services
from chat.services import Turn
from minirag.tenancy import tenant_context

KEEPALIVE = b": keep-alive\n\n"


def sse_event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def turn_sse(turn: Turn) -> Iterator[bytes]:
    """The SSE byte stream of a turn. Runs after the request's middleware reset the schema: re-enter it."""
    with tenant_context(turn.tenant):
        for name, data in services.turn_stream(turn):
            yield KEEPALIVE if name == "keepalive" else sse_event(name, data)
