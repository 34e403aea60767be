"""API keys, scopes and error bodies on a bare Flask app (no graph store, no broker)."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask

from interest_graph.api.auth import init_auth, match_key, presented_key, required_scope
from interest_graph.api.errors import register_error_handlers
from interest_graph.api.openapi import document
from interest_graph.api.validation import query_int
from interest_graph.errors import ConfigError, GraphUnavailable, QueryError

KEYS = {"reader-key": frozenset({"read"}), "writer-key": frozenset({"read", "write"}),
        "write-only": frozenset({"write"})}


def make_app(keys: dict[str, frozenset[str]], *, allow_anonymous: bool = False) -> Flask:
    app = Flask(__name__)
    init_auth(app, keys, allow_anonymous=allow_anonymous)
    register_error_handlers(app)

    @app.get("/v1/thing")
    def thing() -> dict[str, int]:
        return {"k": query_int("k", 10, 1, 100)}

    @app.post("/v1/thing")
    def make_thing() -> dict[str, bool]:
        return {"made": True}

    @app.get("/v1/down")
    def down() -> dict[str, bool]:
        raise GraphUnavailable("connection refused to 127.0.0.1:6379 for user 42")

    @app.get("/v1/bug")
    def bug() -> dict[str, bool]:
        raise QueryError("api/get_user: errMsg with secret-value")

    health_bp = Blueprint("health", __name__)  # the public endpoint is "health.health"

    @health_bp.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.register_blueprint(health_bp)
    return app


def test_key_sources_and_scopes() -> None:
    assert presented_key({"X-API-Key": " abc "}) == "abc"
    assert presented_key({"Authorization": "Bearer abc"}) == "abc"
    assert presented_key({"Authorization": "bearer  abc"}) == "abc"
    assert presented_key({"Authorization": "Basic abc"}) is None
    assert presented_key({}) is None
    assert required_scope("GET") == required_scope("head") == "read"
    assert required_scope("POST") == required_scope("DELETE") == "write"
    assert match_key("writer-key", KEYS) == {"read", "write"}
    assert match_key("writer-ke", KEYS) is None and match_key("", KEYS) is None
    assert match_key("wrïter", KEYS) is None  # non-ASCII input is compared, not an exception


def test_requests_need_a_key_with_the_right_scope() -> None:
    client = make_app(KEYS).test_client()
    missing = client.get("/v1/thing")
    assert missing.status_code == 401
    assert missing.json == {"error": {"code": "unauthorized", "field": None,
                                      "message": "an API key is required (X-API-Key header)"}}
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    assert client.get("/v1/thing", headers={"X-API-Key": "nope"}).status_code == 401
    assert client.get("/v1/thing", headers={"X-API-Key": "reader-key"}).status_code == 200
    assert client.get("/v1/thing", headers={"Authorization": "Bearer reader-key"}).status_code == 200
    assert client.get("/v1/thing", headers={"X-API-Key": "write-only"}).status_code == 403
    refused = client.post("/v1/thing", headers={"X-API-Key": "reader-key"})
    assert refused.status_code == 403 and refused.json is not None
    assert refused.json["error"]["code"] == "forbidden"
    assert client.post("/v1/thing", headers={"X-API-Key": "writer-key"}).status_code == 200
    assert client.get("/health").status_code == 200, "health needs no key"


def test_no_keys_refuses_to_start_unless_anonymous_is_explicit() -> None:
    with pytest.raises(ConfigError, match="INTERESTGRAPH_API_KEYS"):
        make_app({})
    client = make_app({}, allow_anonymous=True).test_client()
    assert client.post("/v1/thing").status_code == 200
    # With keys configured, allow_anonymous changes nothing.
    assert make_app(KEYS, allow_anonymous=True).test_client().get("/v1/thing").status_code == 401


@pytest.mark.parametrize("value", ["0", "101", "x", "1e3", "", "٣"])
def test_bad_integers_are_400_naming_the_field(value: str) -> None:
    response = make_app(KEYS).test_client().get(f"/v1/thing?k={value}",
                                                 headers={"X-API-Key": "reader-key"})
    assert response.status_code == 400 and response.json is not None
    assert response.json["error"]["field"] == "k"


def test_errors_are_json_and_reveal_nothing() -> None:
    client = make_app(KEYS).test_client()
    headers = {"X-API-Key": "reader-key"}
    down = client.get("/v1/down", headers=headers)
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert down.json is not None and "127.0.0.1" not in down.json["error"]["message"]
    bug = client.get("/v1/bug", headers=headers)
    assert bug.status_code == 500 and b"secret-value" not in bug.data
    missing = client.get("/v1/nowhere", headers=headers)
    assert missing.status_code == 404 and missing.json is not None
    assert missing.json["error"]["code"] == "not_found"
    method = client.delete("/v1/thing", headers={"X-API-Key": "writer-key"})
    assert method.status_code == 405 and method.json is not None
    assert method.json["error"]["code"] == "method_not_allowed"


def test_openapi_document_is_complete() -> None:
    spec = document()
    assert spec["openapi"] == "3.1.0"
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            assert "default" in op["responses"] or path == "/openapi.json" or path == "/health"
            public = op.get("security") == []
            assert public == (path in ("/health", "/openapi.json")), (path, method)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"]["name"] == "X-API-Key"
