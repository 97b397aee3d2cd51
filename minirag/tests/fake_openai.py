"""A fake OpenAI-compatible HTTP server for tests and benchmarks.

LiteLLM talks to it over real HTTP (model names such as ``openai/fake-chat`` with
``api_base=fake.base_url`` and ``api_key="test-key"``), so the whole client stack — request building,
streaming, usage parsing, error mapping — is exercised.

- ``POST /v1/chat/completions``: the answer echoes what the model received, so tests can assert grounding:
  ``"You asked: <last user message>\\nContext: <system prompt>"`` (override with ``.reply``). Non-stream answers
  are JSON with ``usage``; ``stream=true`` answers are SSE ``data: {...}`` chunks (one per word), a final chunk
  with ``usage`` when ``stream_options.include_usage`` is set (and ``.stream_usage`` is true), then
  ``data: [DONE]``.
- ``POST /v1/embeddings``: deterministic hashed bag-of-words vectors, L2-normalised. The dimension comes from
  the model name's trailing number (``fake-embed-32`` → 32), 64 otherwise. ``usage.prompt_tokens`` counts words.
- ``POST .../rerank`` (Cohere's ``/v1/rerank`` and ``/v2/rerank``, what LiteLLM's ``cohere/...`` models call with
  ``api_base``): each document is scored by word overlap with the query (the share of the query's distinct
  words it contains), best first, ``top_n`` kept; ``meta.billed_units.search_units`` is 1.
- Real models (benchmarks): ``embedder`` (texts → vectors) and ``reranker`` ((query, documents) → scores), when
  set, answer instead of the hashed vectors and the word overlap.
- Failures: ``fail_next(n, status=429, retry_after=2)`` makes the next ``n`` calls fail with that status (and
  ``message=`` as the provider's error text); ``fail_next(n, sleep=5)`` makes them hang (a client timeout shorter
  than that times out).
- ``delay`` (seconds before answering) and ``chunk_delay`` (seconds between stream chunks) slow it down;
  ``break_stream_after`` drops the connection after that many content chunks; ``stream_garbage =
  (content_type, body)`` answers every ``stream=true`` call with status 200 and that raw body instead.
- ``requests`` logs every call (path, parsed JSON body, headers); ``reset()`` restores everything.

Tokens are counted as whitespace-separated words, so tests can predict them exactly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def count_tokens(text: str) -> int:
    """The fake's tokenizer: whitespace-separated words."""
    return len(text.split())


def embed_text(text: str, dimension: int) -> list[float]:
    """Hashed bag of words, L2-normalised (a zero text gets a unit vector on axis 0)."""
    vector = [0.0] * dimension
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dimension
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[index] += sign
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0:
        vector[0] = 1.0
        return vector
    return [value / norm for value in vector]


def overlap_score(query: str, document: str) -> float:
    """The share of the query's distinct words that the document contains (the fake reranker's relevance)."""
    query_words = set(re.findall(r"\w+", query.lower()))
    if not query_words:
        return 0.0
    return len(query_words & set(re.findall(r"\w+", document.lower()))) / len(query_words)


def embedding_dimension(model: str) -> int:
    match = re.search(r"(\d+)$", model or "")
    return int(match.group(1)) if match and int(match.group(1)) > 0 else 64


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


@dataclass
class Failure:
    status: int = 500
    retry_after: float | None = None
    sleep: float | None = None
    message: str = "fake upstream failure with secret sk-fake-leak-1234567890"


@dataclass
class RecordedRequest:
    path: str
    body: dict
    headers: dict[str, str]
    nodelay: bool = False
    at: float = field(default_factory=time.monotonic)


class FakeOpenAI:
    """Start with ``start()``; ``base_url`` is ``http://127.0.0.1:PORT/v1``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- Control ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.requests: list[RecordedRequest] = []
            self._failures: list[Failure] = []
            self.delay = 0.0
            self.chunk_delay = 0.0
            self.reply: str | None = None
            self.stream_usage = True
            self.break_stream_after: int | None = None
            self.stream_garbage: tuple[str, bytes] | None = None
            self.embedder: Callable[[list[str]], list[list[float]]] | None = None
            self.reranker: Callable[[str, list[str]], list[float]] | None = None

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        sleep: float | None = None,
        message: str | None = None,
    ) -> None:
        """The next ``n`` calls fail with ``status`` (or hang ``sleep`` seconds first, then fail); ``message`` is
        the error body's ``error.message`` (by default one that quotes a fake key)."""
        failure = {"status": status, "retry_after": retry_after, "sleep": sleep}
        if message is not None:
            failure["message"] = message
        with self._lock:
            self._failures.extend(Failure(**failure) for _ in range(n))

    def _take_failure(self) -> Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _record(self, path: str, body: dict, headers: dict[str, str], nodelay: bool) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(path=path, body=body, headers=headers, nodelay=nodelay))

    def calls(self, path_suffix: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path.endswith(path_suffix)]

    @property
    def chat_calls(self) -> list[RecordedRequest]:
        return self.calls("/chat/completions")

    @property
    def embedding_calls(self) -> list[RecordedRequest]:
        return self.calls("/embeddings")

    @property
    def rerank_calls(self) -> list[RecordedRequest]:
        return self.calls("/rerank")

    # --- Lifecycle -------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "FakeOpenAI not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        if self._server is not None:
            return self
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- Answers ---------------------------------------------------------------------------------------
    def answer_for(self, messages: list[dict]) -> str:
        if self.reply is not None:
            return self.reply
        system = "\n".join(_text_of(m.get("content")) for m in messages if m.get("role") == "system")
        last_user = next((_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        return f"You asked: {last_user}\nContext: {system}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return  # a client dropping an idle keep-alive connection is not an error
        super().handle_error(request, client_address)

    def get_request(self):
        conn, address = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:
            return

        # --- plumbing ---
        def _send_json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _read_body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return {}

        def do_POST(self) -> None:
            body = self._read_body()
            nodelay = bool(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            fake._record(self.path, body, {k.lower(): v for k, v in self.headers.items()}, nodelay)
            try:
                failure = fake._take_failure()
                if failure is not None:
                    self._fail(failure)
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                if self.path.endswith("/chat/completions"):
                    self._chat(body)
                elif self.path.endswith("/embeddings"):
                    self._embeddings(body)
                elif self.path.endswith("/rerank"):
                    self._rerank(body)
                else:
                    self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _fail(self, failure: Failure) -> None:
            if failure.sleep:
                time.sleep(failure.sleep)
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            error_type = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(failure.status, "server_error")
            self._send_json(
                failure.status,
                {"error": {"message": failure.message, "type": error_type, "code": str(failure.status)}},
                headers,
            )

        # --- endpoints ---
        def _chat(self, body: dict) -> None:
            messages = body.get("messages") or []
            model = body.get("model") or "fake-chat"
            answer = fake.answer_for(messages)
            prompt_tokens = sum(count_tokens(_text_of(m.get("content"))) for m in messages)
            completion_tokens = count_tokens(answer)
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
            created = int(time.time())
            if not body.get("stream"):
                self._send_json(
                    200,
                    {
                        "id": completion_id,
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": answer},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    },
                )
                return

            if fake.stream_garbage is not None:
                content_type, raw = fake.stream_garbage
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                self.wfile.flush()
                return

            include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and fake.stream_usage
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def chunk(delta: dict, finish_reason: str | None = None, with_usage: dict | None = None) -> bytes:
                payload: dict[str, Any] = {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": []
                    if with_usage is not None
                    else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                }
                if with_usage is not None:
                    payload["usage"] = with_usage
                return f"data: {json.dumps(payload)}\n\n".encode()

            self._write_chunk(chunk({"role": "assistant", "content": ""}))
            pieces = re.findall(r"\S+\s*", answer) or [answer]
            for index, piece in enumerate(pieces):
                if fake.break_stream_after is not None and index >= fake.break_stream_after:
                    # Drop the connection mid-stream without the terminating chunk.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fake.chunk_delay and index:
                    time.sleep(fake.chunk_delay)
                self._write_chunk(chunk({"content": piece}))
            self._write_chunk(chunk({}, finish_reason="stop"))
            if include_usage:
                self._write_chunk(chunk({}, with_usage=usage))
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _embeddings(self, body: dict) -> None:
            model = body.get("model") or "fake-embed"
            inputs = body.get("input")
            if isinstance(inputs, str):
                inputs = [inputs]
            texts: list[str] = []
            for item in inputs or []:
                if isinstance(item, str):
                    texts.append(item)
                elif isinstance(item, list):  # token ids
                    texts.append(" ".join(str(token) for token in item))
                else:
                    texts.append(str(item))
            dimension = int(body.get("dimensions") or embedding_dimension(model))
            as_base64 = body.get("encoding_format") == "base64"
            if fake.embedder is not None:
                vectors = [list(map(float, vector)) for vector in fake.embedder(texts)]
            else:
                vectors = [embed_text(text, dimension) for text in texts]
            data = []
            for index, vector in enumerate(vectors):
                embedding: Any = vector
                if as_base64:  # the OpenAI SDK asks for base64 float32 unless told otherwise
                    embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                data.append({"object": "embedding", "index": index, "embedding": embedding})
            tokens = sum(count_tokens(text) for text in texts)
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": model,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

        def _rerank(self, body: dict) -> None:
            query = str(body.get("query") or "")
            documents = [
                item if isinstance(item, str) else str((item or {}).get("text", ""))
                for item in body.get("documents") or []
            ]
            if fake.reranker is not None:
                scores = [float(score) for score in fake.reranker(query, documents)]
            else:
                scores = [overlap_score(query, document) for document in documents]
            order = sorted(range(len(documents)), key=lambda index: (-scores[index], index))
            top_n = body.get("top_n")
            if isinstance(top_n, int) and top_n > 0:
                order = order[:top_n]
            results: list[dict[str, Any]] = []
            for index in order:
                result: dict[str, Any] = {"index": index, "relevance_score": scores[index]}
                if body.get("return_documents"):
                    result["document"] = {"text": documents[index]}
                results.append(result)
            self._send_json(
                200,
                {
                    "id": f"rerank-{uuid.uuid4().hex[:12]}",
                    "results": results,
                    "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
                },
            )

    return Handler
