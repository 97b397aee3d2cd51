"""OpenAPI post-processing: document the error responses every operation can give, in their real shapes."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        # Field validation gives a list of `{loc, msg, type}` (FastAPI's shape); a service's rule that is not
        # about one field (e.g. "Nesting beyond one level is not allowed") gives the reference's plain string.
        "detail": {
            "oneOf": [
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                        "required": ["loc", "msg", "type"],
                    },
                },
                {"type": "string"},
            ]
        }
    },
    "required": ["detail"],
}

_WRITE_METHODS = {"post", "put", "patch"}
_PROVIDER_PATHS = ("/v1/chat",)
_CREDENTIAL_PATHS = ("/v1/auth/",)  # login and refresh answer 401/403 without needing a bearer token
_SIGNUP_PATH = "/v1/tenants"  # closed sign-up or a bad invite code: 403


def _response(description: str, component: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("ValidationError", VALIDATION_ERROR_SCHEMA)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if operation.get("x-own-error-responses"):  # errors in another API's shape, documented by the operation
                continue
            responses = operation["responses"]
            expected = {
                "404": "Unknown id, another tenant's id, or a malformed id",
                "422": "Request validation failed",
                "503": "A dependency (database, vector store) is temporarily unavailable",
            }
            needs_auth = any("bearerAuth" in requirement for requirement in operation.get("security", []))
            if needs_auth or path.startswith(_CREDENTIAL_PATHS):
                expected["401"] = "Missing, invalid, revoked or expired credential"
                expected["403"] = "The caller's role may not do this"
            if method in _WRITE_METHODS or path.startswith(_CREDENTIAL_PATHS):
                expected["429"] = "Rate limit or quota reached (Retry-After says when to try again)"
            if path == _SIGNUP_PATH and method == "post":
                expected["403"] = "Sign-up is closed, or the invite code is missing or invalid"
            if method in _WRITE_METHODS:
                expected["409"] = "Conflict with the current state"
                expected["413"] = "Request body too large"
                expected["415"] = "Unsupported media type"
            if path.startswith(_PROVIDER_PATHS) and method == "post":
                expected["502"] = "The LLM provider failed (sanitized message)"
                expected["504"] = "The LLM provider timed out"
            for code, description in expected.items():
                component = "ValidationError" if code == "422" else "Error"
                responses.setdefault(code, _response(description, component))
    return result
