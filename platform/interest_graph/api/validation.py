"""Parsing of query parameters and JSON bodies into bounded values (400/415/422 on bad input)."""

from __future__ import annotations

from typing import Any

from flask import request

from .errors import ApiError, invalid_body, invalid_parameter

MAX_K = 100
DEFAULT_K = 10
MAX_ID_LENGTH = 256
# Fields of events and items that end up in the graph as text.
TEXT_FIELDS = ("event_id", "user_id", "item_id", "type", "timestamp", "text", "title",
               "description", "categories")


def query_int(name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within [minimum, maximum]."""
    raw = request.args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not text or not (text.isascii() and text.lstrip("+-").isdigit()) or len(text) > 12:
        raise invalid_parameter(name, f"'{name}' must be an integer from {minimum} to {maximum}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise invalid_parameter(name, f"'{name}' must be an integer from {minimum} to {maximum}")
    return value


def query_choice(name: str, default: str | None, choices: tuple[str, ...]) -> str | None:
    """A query parameter restricted to ``choices``."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw not in choices:
        raise invalid_parameter(name, f"'{name}' must be one of: {', '.join(choices)}")
    return raw


def query_text(name: str, default: str, max_length: int = MAX_ID_LENGTH) -> str:
    """A free-text query parameter (bounded length, no control characters)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if len(raw) > max_length or any(ord(c) < 32 for c in raw):
        raise invalid_parameter(name, f"'{name}' must be at most {max_length} printable characters")
    return raw


def nul_field(raw: dict[str, Any]) -> str | None:
    """The first field of a record whose text holds a NUL character (the graph store cannot take
    one as a parameter), or None."""
    for key in TEXT_FIELDS:
        value = raw.get(key)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            return key
    return None


def path_id(name: str, value: str) -> str:
    """A user, item or segment id from the URL (bounded length, no control characters)."""
    if not value or len(value) > MAX_ID_LENGTH or any(ord(c) < 32 for c in value):
        raise invalid_parameter(name, f"'{name}' must be 1-{MAX_ID_LENGTH} printable characters")
    return value


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object.

    Raises:
        ApiError: 415 without a JSON content type, 400 for malformed JSON, 422 for a non-object.
    """
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "bad_request", "the body is not valid JSON", "body")
    if not isinstance(body, dict):
        raise invalid_body("body", "the body must be a JSON object")
    return body
