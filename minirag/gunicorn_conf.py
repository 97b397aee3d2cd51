"""gunicorn settings shared by `make run` and the Docker image (`gunicorn -c python:minirag.gunicorn_conf`).

Threaded WSGI: a chat stream holds one thread while it waits on the provider's socket, so threads are cheap;
each thread keeps its own PostgreSQL connection (DATABASE_CONN_MAX_AGE), so WEB_CONCURRENCY x WEB_THREADS must
stay below the server's max_connections (the embedded PostgreSQL is set to 300).

Requests gunicorn refuses before Django sees them (a request line over 4094 bytes, a header over 8190 bytes or
more than 100 headers: gunicorn's default limits; a malformed request line or header) are answered in the API's
shape, `{"detail": ...}` as JSON, by the JsonErrorWorker below; the status (400, 431, 501…) stays gunicorn's.
"""

import json
import os

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "minirag.gunicorn_conf.JsonErrorWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "64"))
timeout = 0  # streams may last minutes; a dead worker is found by the arbiter's heartbeat, not a timeout
graceful_timeout = 10
accesslog = "-"


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's contract (status line, Connection: close), with a JSON body."""
    body = json.dumps({"detail": f"{reason}: {mesg}" if mesg else reason}).encode("ascii")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorWorker(ThreadWorker):
    """gthread, answering gunicorn's own protocol errors as JSON instead of its HTML page.

    gunicorn classifies the error, logs it and writes the access log in `Worker.handle_error`, then writes the
    page with `gunicorn.util.write_error`; this worker process swaps that one function for `write_json_error`,
    so everything but the body's format stays gunicorn's.
    """

    def init_process(self):
        util.write_error = write_json_error
        super().init_process()
