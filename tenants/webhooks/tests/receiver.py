"""An independent webhook receiver for tests: a real HTTP server on 127.0.0.1 in a background thread.

It verifies signatures the way the README tells integrators to, with nothing imported from MiniRAG.
"""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    fresh: bool
    duplicate: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str = ""
    # Status codes to answer with, one per request; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    response_body: bytes = b"receiver-private-body"
    extra_headers: dict[str, str] = field(default_factory=dict)
    tolerance_seconds: int = 300
    # Seconds to wait before answering (a slow integrator).
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    seen_deliveries: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                time.sleep(receiver.delay_seconds)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                expected = hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                signature_valid = hmac.compare_digest(expected, self.headers.get("X-MiniRAG-Signature", ""))
                fresh = False
                delivery = ""
                if signature_valid:
                    # Only the signed body is trusted for timestamp and delivery id.
                    data = json.loads(body)
                    fresh = abs(time.time() - int(data["timestamp"])) <= receiver.tolerance_seconds
                    delivery = data["delivery_id"]
                duplicate = delivery in receiver.seen_deliveries
                receiver.received.append(Received(dict(self.headers.items()), body, signature_valid, fresh, duplicate))
                index = min(len(receiver.received), len(receiver.statuses)) - 1
                status = receiver.statuses[index]
                if not signature_valid or not fresh:
                    status = 401
                elif 200 <= status < 300:
                    receiver.seen_deliveries.add(delivery)
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.response_body)))
                self.end_headers()
                self.wfile.write(receiver.response_body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
