"""One exception handler for the whole API: the reference's `{"detail": ...}` shape, 422 for validation.

A view that speaks another API's dialect (the OpenAI-compatible endpoints) may reshape its errors: it defines
`error_format(response, exc) -> Response`, called with the answer decided here (status, detail, headers).
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from minirag.errors import DomainError

logger = logging.getLogger("minirag.api")

# A dependency that cannot be reached: the request may succeed later, so 503 and never a 500.
OUTAGE_ERRORS = (OperationalError, InterfaceError, BrokerError, RedisConnectionError, RedisTimeoutError)
NESTED_TOO_DEEPLY = "Request nested too deeply"


def unavailable_detail(exc: BaseException | None) -> str | None:
    """The 503 message when `exc` means the database, the task broker or Redis is unreachable, else None."""
    if isinstance(exc, OperationalError | InterfaceError):
        return "Database unavailable; please retry"
    if isinstance(exc, DatabaseError):
        return "Database error; please retry"
    if isinstance(exc, BrokerError):
        return "Task queue unavailable; please retry"
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "Cache unavailable; please retry"
    return None


def validation_errors_to_list(detail, location=("body",)) -> list[dict]:
    """Flatten DRF's nested error dict into FastAPI-style items: `{"loc": [...], "msg": ..., "type": ...}`."""
    items: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            loc = location if key in ("non_field_errors", "__all__") else (*location, key)
            items.extend(validation_errors_to_list(value, loc))
    elif isinstance(detail, list):
        if all(isinstance(entry, str) for entry in detail):
            for entry in detail:
                code = getattr(entry, "code", None) or "invalid"
                items.append({"loc": list(location), "msg": str(entry), "type": f"value_error.{code}"})
        else:
            for index, entry in enumerate(detail):
                items.extend(validation_errors_to_list(entry, (*location, index) if entry else location))
    elif detail:
        code = getattr(detail, "code", None) or "invalid"
        items.append({"loc": list(location), "msg": str(detail), "type": f"value_error.{code}"})
    return items


def exception_handler(exc, context):
    response = _handle(exc, context)
    error_format = getattr(context.get("view"), "error_format", None)
    if response is not None and error_format is not None:
        response = error_format(response, exc)
    return response


def _handle(exc, context):
    if isinstance(exc, DomainError):
        return Response({"detail": exc.detail}, status=exc.status_code, headers=exc.headers or None)
    if isinstance(exc, drf_exceptions.ValidationError):
        return Response({"detail": validation_errors_to_list(exc.detail)}, status=422)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": validation_errors_to_list(exc.messages)}, status=422)
    if isinstance(exc, drf_exceptions.ParseError):
        return Response({"detail": [{"loc": ["body"], "msg": str(exc.detail), "type": "value_error.json"}]}, status=422)
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return Response({"detail": str(exc.detail)}, status=415)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large"}, status=413)
    if isinstance(exc, SuspiciousOperation):
        return Response({"detail": "Bad request"}, status=400)
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        return Response({"detail": "Not authenticated"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, Http404):
        return Response({"detail": "Not found"}, status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"detail": "Permission denied"}, status=403)

    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        response.data = {"detail": str(detail) if detail is not None else "Error"}
        return response

    detail = unavailable_detail(exc)
    if detail is not None:
        if isinstance(exc, OUTAGE_ERRORS):
            # An outage: one line per request, not a traceback each.
            logger.warning("%s while handling %s: %s", type(exc).__name__, context.get("request"), exc)
        else:
            logger.exception("Database error while handling %s", context.get("request"))
        return Response({"detail": detail}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, RecursionError):
        logger.warning("RecursionError while handling %s", context.get("request"))
        return Response({"detail": NESTED_TOO_DEEPLY}, status=400)
    logger.exception("Unhandled error while handling %s", context.get("request"))
    return Response({"detail": "Internal server error"}, status=500)
