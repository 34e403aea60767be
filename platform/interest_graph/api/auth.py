"""API keys with ``read`` and ``write`` scopes.

A key comes in the ``X-API-Key`` header or as ``Authorization: Bearer <key>`` (never in the URL,
where it would end up in access logs). Safe methods (GET, HEAD, OPTIONS) need ``read``; every other
method needs ``write``. Keys are compared with :func:`hmac.compare_digest` against every configured
key, so the time taken does not reveal how much of a guess matched.

Public endpoints: ``/health``, ``/openapi.json`` and the dashboard's page and static files (the
page holds no data; it calls the API with a key the user types in).

With no keys configured, :func:`init_auth` refuses to start unless ``allow_anonymous`` is set
(``interestgraph serve --dev``); then every request is allowed with both scopes. When keys are
configured, ``allow_anonymous`` changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, g, request

from ..errors import ConfigError
from .errors import ApiError

log = logging.getLogger(__name__)

PUBLIC_ENDPOINTS = frozenset({"health.health", "openapi.spec", "static"})
PUBLIC_BLUEPRINTS = frozenset({"dashboard"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_SCOPES = frozenset({"read", "write"})


def required_scope(method: str) -> str:
    """The scope a request method needs."""
    return "read" if method.upper() in SAFE_METHODS else "write"


def presented_key(headers: Mapping[str, str] | Any) -> str | None:
    """The key a request carries, from ``X-API-Key`` or ``Authorization: Bearer``."""
    key = headers.get("X-API-Key")
    if key:
        return key.strip()
    auth = headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def match_key(candidate: str, keys: Mapping[str, frozenset[str]]) -> frozenset[str] | None:
    """The scopes of ``candidate``, or None. Compares against every key in constant time."""
    given = candidate.encode("utf-8", "surrogateescape")
    found: frozenset[str] | None = None
    for key, scopes in keys.items():
        if hmac.compare_digest(given, key.encode("utf-8")):
            found = scopes
    return found


def init_auth(app: Flask, keys: Mapping[str, frozenset[str]], *, allow_anonymous: bool) -> None:
    """Require a key with the right scope on every non-public endpoint.

    Raises:
        ConfigError: no keys are configured and ``allow_anonymous`` is False.
    """
    if not keys and not allow_anonymous:
        raise ConfigError(
            "no API keys configured: set INTERESTGRAPH_API_KEYS (e.g. 'k1:read,k2:read+write'), "
            "or run 'interestgraph serve --dev' to allow anonymous access on this machine"
        )
    anonymous = not keys
    if anonymous:
        log.warning("API running WITHOUT authentication (anonymous access allowed)")
    key_table = dict(keys)

    @app.before_request
    def _authenticate() -> None:
        g.scopes = frozenset()
        if request.endpoint is None:
            return  # routing failed: the 404/405 handler answers
        if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
            return
        if anonymous:
            g.scopes = ALL_SCOPES
            return
        candidate = presented_key(request.headers)
        if candidate is None:
            raise ApiError(401, "unauthorized", "an API key is required (X-API-Key header)",
                           headers={"WWW-Authenticate": 'Bearer realm="interest-graph"'})
        scopes = match_key(candidate, key_table)
        if scopes is None:
            raise ApiError(401, "unauthorized", "the API key is not valid",
                           headers={"WWW-Authenticate": 'Bearer realm="interest-graph"'})
        needed = required_scope(request.method)
        if needed not in scopes:
            raise ApiError(403, "forbidden", f"this API key lacks the '{needed}' scope")
        g.scopes = scopes
