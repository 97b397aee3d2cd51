"""gunicorn settings shared by `make run` and the Docker image (`gunicorn -c python:minirag.gunicorn_conf`).

Threaded WSGI: a chat stream holds one thread while it waits on the provider's socket, so threads are cheap;
each thread keeps its own PostgreSQL connection (DATABASE_CONN_MAX_AGE), so WEB_CONCURRENCY x WEB_THREADS must
stay below the server's max_connections (the embedded PostgreSQL is set to 300).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "64"))
timeout = 0  # streams may last minutes; a dead worker is found by the arbiter's heartbeat, not a timeout
graceful_timeout = 10
accesslog = "-"
