"""Tenant bootstrap and authenticated-request speed.

    .venv/bin/python bench/tenant_bootstrap.py [--tenants 1000] [--samples 30]

Prints p50/p95 of POST /v1/tenants with 10 and with N existing tenants, and GET /v1/tenants/me latency and
requests/s through Django's test client and through the real server (gunicorn, threaded) on 127.0.0.1.
Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/minirag_bench),
recreated at start.
"""

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from _setup import configure, free_port, percentile, start_gunicorn

PASSWORD = "bench-password-long-enough"


def bootstrap_latencies(client, count: int, prefix: str) -> list[float]:
    timings = []
    for index in range(count):
        body = {
            "tenant_name": f"{prefix} {index}",
            "tenant_slug": f"{prefix}-{index}",
            "owner_email": f"owner@{prefix}-{index}.example",
            "owner_password": PASSWORD,
        }
        started = time.perf_counter()
        response = client.post("/v1/tenants", body, content_type="application/json")
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 201, response.content
    return timings


def fill_tenants(target: int) -> None:
    from tenants.models import Tenant
    from tenants.services import tenant_bootstrap

    existing = Tenant.objects.count()
    started = time.perf_counter()
    for index in range(existing, target):
        tenant_bootstrap(
            name=f"Fill {index}", slug=f"fill-{index}", owner_email=f"o@fill{index}.example", owner_password=PASSWORD
        )
        if index % 100 == 0:
            print(f"  … {index}/{target} tenants ({time.perf_counter() - started:.0f}s)", flush=True)


def real_server_rps(token: str, *, seconds: float = 5.0, concurrency: int = 8) -> tuple[float, float]:
    import httpx

    port = free_port()
    server = start_gunicorn(port, workers=2, threads=16)
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}

        def worker(_):
            latencies = []
            with httpx.Client(base_url=base, headers=headers) as client:
                stop = time.monotonic() + seconds
                while time.monotonic() < stop:
                    started = time.perf_counter()
                    assert client.get("/v1/tenants/me").status_code == 200
                    latencies.append((time.perf_counter() - started) * 1000)
            return latencies

        with ThreadPoolExecutor(concurrency) as pool:
            results = [lat for chunk in pool.map(worker, range(concurrency)) for lat in chunk]
        return len(results) / seconds, statistics.median(results)
    finally:
        server.terminate()
        server.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()

    configure(fresh=True)
    from django.test import Client

    client = Client()
    print("tenant bootstrap (POST /v1/tenants, in-process test client)")
    fill_tenants(10)
    small = bootstrap_latencies(client, args.samples, "small")
    print(f"  with 10 tenants:    p50 {percentile(small, 50):6.1f} ms   p95 {percentile(small, 95):6.1f} ms")
    fill_tenants(args.tenants)
    large = bootstrap_latencies(client, args.samples, "large")
    print(f"  with {args.tenants} tenants:  p50 {percentile(large, 50):6.1f} ms   p95 {percentile(large, 95):6.1f} ms")

    from tenants.models import ApiToken
    from tenants.services import api_token_create

    owner = ApiToken.objects.select_related("user").filter(tenant__slug="small-0").first().user
    token = api_token_create(user=owner, name="bench").raw_token
    me = []
    for _ in range(300):
        started = time.perf_counter()
        assert client.get("/v1/tenants/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
        me.append((time.perf_counter() - started) * 1000)
    print("GET /v1/tenants/me (API token)")
    print(f"  test client:  p50 {percentile(me, 50):.2f} ms, {1000 / statistics.mean(me):.0f} req/s (1 thread)")
    rps, p50 = real_server_rps(token)
    print(f"  real server:  p50 {p50:.2f} ms, {rps:.0f} req/s (gunicorn 2 proc x 16 threads, 8 clients)")


if __name__ == "__main__":
    main()
