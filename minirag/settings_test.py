"""Settings for the test suite: the regular settings with test-safe environment defaults."""

import os
import tempfile

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("JWT_SIGNING_KEY", "test-jwt-signing-key-" + "y" * 40)
os.environ.setdefault("ENCRYPTION_KEYS", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdCE=")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Deliveries run inline in tests so assertions see them; one test covers the background path.
os.environ.setdefault("WEBHOOK_EAGER_IN_BACKGROUND", "false")
os.environ.setdefault("QDRANT_URL", "")
os.environ.setdefault("QDRANT_IN_MEMORY", "true")  # the Qdrant backend's tests use the in-memory double
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="minirag-media-"))
os.environ.setdefault("STATIC_ROOT", tempfile.mkdtemp(prefix="minirag-static-"))

from minirag.settings import *  # noqa: F403

PASSWORD_HASHERS = [
    # Argon2 stays the hasher under test; cheaper parameters keep the suite fast.
    "minirag.testing.FastArgon2PasswordHasher",
]
ALLOWED_HOSTS = ["*"]

# The suite's tenants are created once and run thousands of requests from 127.0.0.1: rate limits and quotas get
# limits no test reaches (their own tests set tight ones), counted in this process's memory, never in a Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "minirag-tests"}}
RATE_LIMITS = dict.fromkeys(RATE_LIMITS, "1000000/min")  # noqa: F405
PLANS = {**PLANS, "free": dict.fromkeys(QUOTA_NAMES)}  # noqa: F405
