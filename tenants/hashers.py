"""Argon2id with OWASP's recommended parameters (19 MiB, t=2, p=1).

Django's defaults (100 MiB, p=8) take ~400 ms on a 2-core server, which would dominate login and tenant
bootstrap; OWASP's profile keeps the same algorithm and hash format at a fraction of the cost. Hashes made
with other parameters still verify and are upgraded on the next successful login.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
