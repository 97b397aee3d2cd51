"""Secrets at rest: Fernet through MultiFernet. The first key in ENCRYPTION_KEYS encrypts; all decrypt.

Rotation: put a new key first, run `manage.py rotate_credentials`, then drop the old key.
"""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """Ciphertext that no configured key opens (a key was removed too early)."""


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in settings.ENCRYPTION_KEYS])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(f"ENCRYPTION_KEYS holds an invalid Fernet key: {type(error).__name__}") from None


def validate_keys() -> None:
    """Fail at startup (not at request time) when a key is malformed."""
    _fernet()


def encrypt_text(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_text(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError("No configured encryption key can decrypt this value") from None


def encrypt_json(value: dict) -> str:
    return encrypt_text(json.dumps(value, separators=(",", ":")))


def decrypt_json(ciphertext: str) -> dict:
    return json.loads(decrypt_text(ciphertext))


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the first (newest) key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError("No configured encryption key can decrypt this value") from None


def clear_cache() -> None:
    _fernet.cache_clear()
