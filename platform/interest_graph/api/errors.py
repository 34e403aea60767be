"""Consistent JSON error bodies for every failure the API can return.

Every error is ``{"error": {"code": str, "message": str, "field": str | null}}``. Bad input is a
4xx naming the field; an unreachable store or broker is a 503 (``graph_unavailable``,
``broker_unavailable``) with ``Retry-After``; a bug is a 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from ..errors import BrokerUnavailable, Conflict, GraphUnavailable, NotFound, QueryError

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors → our stable codes (the message is Werkzeug's description).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error a view raises on purpose: status, stable code, message and the offending field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def invalid_parameter(field: str, message: str) -> ApiError:
    """A bad query or path parameter (400)."""
    return ApiError(400, "invalid_parameter", message, field)


def invalid_body(field: str, message: str) -> ApiError:
    """A well-formed JSON body with a bad value or shape (422)."""
    return ApiError(422, "invalid", message, field)


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """The one error body shape, as a response."""
    response = jsonify({"error": {"code": code, "message": message, "field": field}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Map platform exceptions and HTTP errors to JSON responses."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return error_response(404, "not_found", str(exc) or "not found")

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict) -> Response:
        return error_response(409, "conflict", "the write conflicts with existing data")

    @app.errorhandler(GraphUnavailable)
    def _unavailable(exc: GraphUnavailable) -> Response:
        log.warning("graph store unavailable: %s", type(exc).__name__)
        return error_response(503, "graph_unavailable", "the graph store is unavailable; retry later",
                              headers={"Retry-After": "5"})

    @app.errorhandler(BrokerUnavailable)
    def _broker_unavailable(exc: BrokerUnavailable) -> Response:
        log.warning("task broker unavailable: %s", exc)
        return error_response(503, "broker_unavailable", "the task broker is unavailable; retry later",
                              headers={"Retry-After": "5"})

    @app.errorhandler(QueryError)
    def _query_error(exc: QueryError) -> Response:
        # A catalog query failed: a bug, never the client's input (values are bound parameters).
        # Only the query name: driver messages may echo parameter values (personal data).
        log.error("catalog query %s failed", str(exc).split(":", 1)[0])
        return error_response(500, "internal_error", "internal error")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "error")
        headers: dict[str, str] = {}
        if status == 405 and exc.response is None:
            allowed: Any = getattr(exc, "valid_methods", None)
            if allowed:
                headers["Allow"] = ", ".join(sorted(allowed))
        message = exc.description or exc.name
        return error_response(status, code, message, None, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error in %s", type(exc).__name__)
        return error_response(500, "internal_error", "internal error")
