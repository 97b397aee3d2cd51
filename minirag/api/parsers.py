"""Request parsers: DRF's, plus the checks every request body needs before any field sees it.

A body is refused with a 422 naming the first offending place (`loc`) when it holds
- a NUL character anywhere (PostgreSQL stores neither "\\u0000" in jsonb nor NUL in text: a database error later),
- a lone UTF-16 surrogate such as "\\ud800" (it cannot be encoded as UTF-8: not stored, not even echoed back in
  an error message),
- JSON nested deeper than MAX_JSON_DEPTH levels (deeper input would exhaust the parser's recursion, and nothing
  MiniRAG accepts is more than a few levels deep).
Keys are checked as well as values, so a `config` or `metadata` dict is covered like a plain text field.
"""

from rest_framework import parsers

from minirag.errors import InvalidInput

MAX_JSON_DEPTH = 64


def _loc_part(key):
    """A path element that can always be rendered (an offending key is shown with its escapes)."""
    if isinstance(key, str):
        return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return key


def _text_problem(text: str) -> tuple[str, str] | None:
    if "\x00" in text:
        return "Null characters are not allowed.", "value_error.null_characters_not_allowed"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            code = ord(text[error.start])
            return f"Surrogate characters are not allowed: U+{code:X}.", "value_error.surrogate_characters_not_allowed"
    return None


def check_request_data(data, location: tuple = ("body",), max_depth: int = MAX_JSON_DEPTH) -> None:
    """Walk parsed request data (iteratively: depth is what is being checked) and raise InvalidInput (422) at
    the first NUL character, lone surrogate, or nesting beyond `max_depth`."""
    stack = [(data, location, 0)]
    while stack:
        value, loc, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise InvalidInput([{"loc": list(loc), "msg": problem[0], "type": problem[1]}])
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise InvalidInput(
                    [
                        {
                            "loc": list(loc),
                            "msg": f"JSON nested too deeply (at most {max_depth} levels)",
                            "type": "value_error.json.depth",
                        }
                    ]
                )
            if isinstance(value, dict):
                items = list(value.items())
                for key, _ in items:
                    problem = _text_problem(key) if isinstance(key, str) else None
                    if problem:
                        raise InvalidInput([{"loc": [*loc, _loc_part(key)], "msg": problem[0], "type": problem[1]}])
            else:
                items = list(enumerate(value))
            # Reversed, so the first offending element in document order is the one reported.
            stack.extend((child, (*loc, _loc_part(key)), depth + 1) for key, child in reversed(items))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # CPython's decoder gives up around 1,000 levels; a clean 422 instead of a 500 and a traceback.
            raise InvalidInput(
                [
                    {
                        "loc": ["body"],
                        "msg": f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)",
                        "type": "value_error.json.depth",
                    }
                ]
            ) from None
        check_request_data(data)
        return data


class _FormCheck:
    """Form fields (urlencoded or multipart) arrive as a QueryDict; DRF's DictField reads `config[key]=value`
    from them, so they reach JSON columns too. Uploaded files are not text and are not checked here."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        data = getattr(parsed, "data", parsed)
        values = {key: data.getlist(key) for key in data}
        check_request_data({key: found[0] if len(found) == 1 else found for key, found in values.items()})
        return parsed


class FormParser(_FormCheck, parsers.FormParser):
    pass


class MultiPartParser(_FormCheck, parsers.MultiPartParser):
    pass
