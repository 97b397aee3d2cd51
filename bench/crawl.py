"""A site crawl of N local pages through `manage.py ingest --crawl`: wall time, pages fetched, requests, then a
re-crawl of the unchanged site.

    .venv/bin/python bench/crawl.py [--pages 50] [--delay 1.0]

The site: http.server in a thread on 127.0.0.1 — a home page, sections of 7 pages each (N pages in all, depth
≤ 2), a robots.txt — each page ~2 KB of HTML. `--delay` is CRAWL_DELAY_SECONDS (1 s by default; the code never
goes below 0.2). The crawl runs in this process without a broker, as `manage.py ingest --crawl` does without
workers: each page's ingestion (sparse bot, BM25 only) runs as the page is kept, inside the crawl's time.

Database: an embedded PostgreSQL in a temporary directory (bench/_pg.py), deleted at the end; or
BENCH_DATABASE_URL when set (recreated).
"""

import argparse
import io
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise

from _pg import embedded_postgres_server
from _setup import configure

PASSWORD = "bench-password-long-enough"
WORDS = (
    "harbour storm lighthouse signal fisherman festival season chart bakery bread river valley mountain engine "
    "turbine voltage circuit protocol packet latency server archive ledger invoice contract clause tenant policy"
).split()
PER_SECTION = 7


def site_routes(pages: int) -> dict[str, bytes]:
    """`pages` HTML pages: / → /s/<k> (sections) → /s/<k>/<n> (pages), and robots.txt."""
    randomiser = random.Random(11)
    sections = max(1, (pages - 1) // (PER_SECTION + 1))
    leaves = pages - 1 - sections

    def html(title: str, links: list[str]) -> bytes:
        text = " ".join(randomiser.choice(WORDS) for _ in range(250))
        anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
        return f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p><ul>{anchors}</ul>"\
               "</body></html>".encode()  # fmt: skip

    routes = {"/robots.txt": b"User-agent: *\nDisallow: /private/\n"}
    routes["/"] = html("Home", [f"/s/{k}" for k in range(sections)])
    for k in range(sections):
        children = [f"/s/{k}/{n}" for n in range(leaves) if n % sections == k]
        routes[f"/s/{k}"] = html(f"Section {k}", [*children, "/"])
        for href in children:
            routes[href] = html(f"Page {href}", ["/", f"/s/{k}"])
    return routes


def serve(routes: dict[str, bytes]) -> tuple[ThreadingHTTPServer, list[float]]:
    hits: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(time.monotonic())
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            kind = "text/plain" if self.path.endswith(".txt") else "text/html; charset=utf-8"
            self.send_header("Content-Type", kind)
            body = body if body is not None else b"not found"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--delay", type=float, default=1.0, help="CRAWL_DELAY_SECONDS")
    args = parser.parse_args()
    overrides = {"CRAWL_DELAY_SECONDS": str(args.delay)}
    if os.environ.get("BENCH_DATABASE_URL"):
        configure(fresh=True, database_url=os.environ["BENCH_DATABASE_URL"], **overrides)
        return run(args)
    with embedded_postgres_server("minirag_bench_crawl") as database:
        configure(fresh=False, database_url=database.url, **overrides)
        return run(args)


def run(args) -> int:
    from django.core.management import call_command

    from bots.services import bot_create
    from minirag.tenancy import tenant_context
    from sources.models import Source
    from tenants.services import tenant_bootstrap

    boot = tenant_bootstrap(
        name="Bench crawl", slug="bench-crawl", owner_email="o@bench-crawl.example", owner_password=PASSWORD
    )
    with tenant_context(boot.tenant):
        bot_create(name="Crawl bot", model="extractive")
    routes = site_routes(args.pages)
    server, hits = serve(routes)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"site: {len(routes) - 1} pages at {url}; CRAWL_DELAY_SECONDS={args.delay:g}; sparse bot, eager ingestion")
    command = ["ingest", "--tenant", "bench-crawl", "--bot", "Crawl bot", "--no-progress", "--crawl", url,
               "--max-pages", str(args.pages + 10), "--max-depth", "2"]  # fmt: skip
    rows = []
    for label in ("first crawl", "re-crawl, unchanged"):
        hits.clear()
        out = io.StringIO()
        started = time.perf_counter()
        call_command(*command, stdout=out)
        elapsed = time.perf_counter() - started
        with tenant_context(boot.tenant):
            parent = Source.objects.get(parent=None, external_id=f"crawl:{url}")
            report = parent.crawl_report
            ready = Source.objects.filter(parent=parent, status="ready").count()
        gaps = [later - earlier for earlier, later in pairwise(hits)]
        rows.append((label, elapsed, report, ready, min(gaps) if gaps else 0.0))
    server.shutdown()
    print(f"\n{'run':<20} {'wall s':>7} {'fetched':>7} {'requests':>8} {'kept':>5} {'new':>4} {'unch.':>5} "
          f"{'ready':>5} {'min gap s':>9}")  # fmt: skip
    for label, elapsed, report, ready, gap in rows:
        print(f"{label:<20} {elapsed:7.2f} {report['pages_fetched']:7d} {report['requests']:8d} {report['pages']:5d} "
              f"{report['new']:4d} {report['unchanged']:5d} {ready:5d} {gap:9.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
