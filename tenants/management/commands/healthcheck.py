"""`manage.py healthcheck worker|beat`: is this container's Celery worker (or beat) doing its job? Exit 0 when it
is, 1 with one line saying why not. Docker Compose runs it as the worker's and beat's healthcheck; the web
server's is an HTTP GET of /health.

- worker: the worker on this host (node `celery@<hostname>`, Celery's default name) answers a remote-control
  request through the broker within a few seconds and consumes the queues `manage.py doctor` expects. A worker
  whose process is up but whose broker connection or consumer loop is stuck does not answer.
- beat: the heartbeat that beat's scheduler leaves in Redis (minirag.celery.HeartbeatScheduler) was written by
  this host, and recently: beat wakes at least every CELERY_BEAT_MAX_LOOP_INTERVAL seconds.

Each run costs under a second of CPU (mostly Django's setup), once per healthcheck interval.
"""

import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from minirag.celery import BEAT_HEARTBEAT_SECONDS, app, read_beat_heartbeat
from tenants.management.commands.doctor import WORKER_QUEUES

ANSWER_TIMEOUT_SECONDS = 5.0


def beat_heartbeat_max_age() -> float:
    """How old beat's heartbeat may be: beat wakes at least every CELERY_BEAT_MAX_LOOP_INTERVAL seconds and then
    writes it if the last one is BEAT_HEARTBEAT_SECONDS old; twice that leaves room for a slow tick."""
    return 2 * (settings.CELERY_BEAT_MAX_LOOP_INTERVAL + BEAT_HEARTBEAT_SECONDS)


def worker_problem(node: str, *, timeout: float) -> str | None:
    try:
        replies = app.control.inspect(destination=[node], timeout=timeout).active_queues() or {}
    except Exception as error:  # noqa: BLE001 - an unreachable broker is an unhealthy worker, said in one line
        return f"cannot ask {node} through the broker ({type(error).__name__})"
    if node not in replies:
        return f"{node} did not answer within {timeout:g}s"
    consumed = {queue["name"] for queue in replies[node] or []}
    missing = WORKER_QUEUES - consumed
    if missing:
        return f"{node} does not consume the queue(s) {', '.join(sorted(missing))}"
    return None


def beat_problem(host: str) -> str | None:
    try:
        beat = read_beat_heartbeat()
    except Exception as error:  # noqa: BLE001
        return f"cannot read beat's heartbeat ({type(error).__name__})"
    if beat is None:
        return "no heartbeat from beat in Redis"
    if beat["host"] != host:
        return f"the heartbeat comes from beat on {beat['host']}, not from this host ({host})"
    limit = beat_heartbeat_max_age()
    if beat["age"] > limit:
        return f"beat's last heartbeat is {beat['age']:.0f}s old (more than {limit:g}s)"
    return None


class Command(BaseCommand):
    help = "Exit 0 when this host's Celery worker answers and consumes its queues (worker) or beat ticks (beat)."

    def add_arguments(self, parser):
        parser.add_argument("role", choices=["worker", "beat"])
        parser.add_argument("--host", default=socket.gethostname(), help="Default: this host's name")

    def handle(self, *args, **options):
        host = options["host"]
        if options["role"] == "worker":
            problem = worker_problem(f"celery@{host}", timeout=ANSWER_TIMEOUT_SECONDS)
        else:
            problem = beat_problem(host)
        if problem:
            raise CommandError(problem)
        self.stdout.write(f"{options['role']} ok")
