"""Password policy shared by the API, the bootstrap command and user management."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from minirag.errors import InvalidInput


def check_password_policy(password: str, *, field: str = "password") -> None:
    """8–128 characters, not a common or all-numeric password. Raises InvalidInput (422)."""
    problems: list[str] = []
    if len(password) < settings.PASSWORD_MIN_LENGTH:
        problems.append(f"Password must be at least {settings.PASSWORD_MIN_LENGTH} characters")
    elif len(password) > settings.PASSWORD_MAX_LENGTH:
        problems.append(f"Password must be at most {settings.PASSWORD_MAX_LENGTH} characters")
    else:
        try:
            validate_password(password)
        except ValidationError as error:
            problems.extend(error.messages)
    if problems:
        raise InvalidInput([{"loc": ["body", field], "msg": msg, "type": "value_error.password"} for msg in problems])
