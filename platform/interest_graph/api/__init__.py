"""The HTTP API: ``create_app(settings=None)`` builds a Flask app (the flaskr factory pattern).

The only package that imports Flask. Views validate input, call one repository method or enqueue
one task, and serialise; Cypher lives in ``cypher/api/`` and torch never loads here.
"""

from __future__ import annotations

import importlib.util
import json
import math
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from ..settings import Settings
from .auth import init_auth
from .errors import register_error_handlers
from .extensions import init_graph, init_tasks
from .metrics import init_metrics

MAX_CONTENT_LENGTH = 5 * 1024 * 1024


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Valid JSON only: NaN and infinities (a model may produce them) become null."""

    sort_keys = False
    ensure_ascii = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        try:
            return json.dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            return json.dumps(_finite(obj), allow_nan=False, **kwargs)


def create_app(settings: Settings | None = None, *, allow_anonymous: bool = False) -> Flask:
    """Build the API app for one process.

    Args:
        settings: defaults to :meth:`Settings.from_env` (the only place the API reads the
            environment).
        allow_anonymous: serve without API keys when none are configured (local development
            only; ``interestgraph serve --dev``). Without it, no keys means no start.

    Raises:
        ConfigError: no API keys and not ``allow_anonymous``.
        GraphUnavailable: the graph store cannot be reached.
    """
    settings = Settings.from_env() if settings is None else settings
    app = Flask(__name__)
    app.json_provider_class = StrictJSONProvider
    app.json = StrictJSONProvider(app)
    app.config.update(MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH)
    app.extensions["settings"] = settings

    init_metrics(app)  # first, so that refused requests are timed and counted too
    init_auth(app, settings.api_keys, allow_anonymous=allow_anonymous)
    register_error_handlers(app)
    init_graph(app, settings)
    init_tasks(app, settings)

    from . import audiences, events, health, items, metrics, openapi, segments, sources, tasks, users

    for module in (users, items, segments, audiences, events, sources, tasks, health, metrics,
                   openapi):
        app.register_blueprint(module.bp)
    # The dashboard is built separately; it joins when its module exists.
    if importlib.util.find_spec(f"{__name__}.dashboard") is not None:
        from .dashboard import bp as dashboard_bp

        app.register_blueprint(dashboard_bp)
    return app
