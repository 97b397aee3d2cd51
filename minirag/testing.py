"""Test-only helpers importable from settings (kept out of production code paths)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with small costs: the same algorithm and format, fast enough for a test suite."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1
