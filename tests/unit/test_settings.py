from __future__ import annotations

from pathlib import Path

import pytest

from interest_graph.errors import ConfigError
from interest_graph.settings import Settings, parse_api_keys


def test_defaults_target_the_embedded_server(tmp_path: Path) -> None:
    settings = Settings.from_env({"INTERESTGRAPH_DATA_DIR": str(tmp_path)})
    target = settings.target()
    assert target.embedded and target.backend == "falkordb"
    assert settings.data_dir == tmp_path.resolve()


def test_parses_falkordb_and_neo4j_uris() -> None:
    falkor = Settings.from_env({"INTERESTGRAPH_GRAPH_URI": "falkordb://db.local:7000/shop"}).target()
    assert (falkor.backend, falkor.host, falkor.port, falkor.graph, falkor.embedded) == (
        "falkordb", "db.local", 7000, "shop", False)
    neo = Settings.from_env({
        "INTERESTGRAPH_GRAPH_URI": "bolt://neo:7687/graphdb",
        "INTERESTGRAPH_NEO4J_USER": "u", "INTERESTGRAPH_NEO4J_PASSWORD": "p",
    }).target()
    assert (neo.backend, neo.uri, neo.user, neo.password, neo.database) == (
        "neo4j", "bolt://neo:7687", "u", "p", "graphdb")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INTERESTGRAPH_GRAPH_URI": "mysql://x"}, "unsupported scheme"),
        ({"INTERESTGRAPH_BATCH_SIZE": "many"}, "BATCH_SIZE must be an integer"),
        ({"INTERESTGRAPH_BATCH_SIZE": "0"}, "at least 1"),
        ({"INTERESTGRAPH_PSEUDONYMISE": "perhaps"}, "true or false"),
        ({"INTERESTGRAPH_WEIGHTS": "view"}, "type=weight"),
        ({"INTERESTGRAPH_API_KEYS": "k:admin"}, "API_KEYS"),
        ({"INTERESTGRAPH_STORE_CONNECT_TIMEOUT": "0"}, "STORE_CONNECT_TIMEOUT must be a positive"),
        ({"INTERESTGRAPH_STORE_QUERY_TIMEOUT": "soon"}, "STORE_QUERY_TIMEOUT must be a number"),
        ({"INTERESTGRAPH_REQUEST_TIMEOUT": "0"}, "REQUEST_TIMEOUT must be a positive"),
        ({"INTERESTGRAPH_BROKER_TIMEOUT": "soon"}, "BROKER_TIMEOUT must be a number"),
        ({"INTERESTGRAPH_WORKER_NICE": "20"}, "WORKER_NICE must be 0-19"),
        ({"INTERESTGRAPH_MODEL_SEARCH": "fast"}, "MODEL_SEARCH must be full or quick"),
    ],
)
def test_bad_values_fail_with_the_variable_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_weights_override_only_named_types() -> None:
    settings = Settings.from_env({"INTERESTGRAPH_WEIGHTS": "view=0.5, cart=4"})
    assert settings.weights["view"] == 0.5 and settings.weights["cart"] == 4.0
    assert settings.weights["purchase"] == 5.0


def test_api_keys_and_generated_secret_is_kept(tmp_path: Path) -> None:
    assert parse_api_keys("a:read,b:read+write") == {
        "a": frozenset({"read"}), "b": frozenset({"read", "write"})}
    settings = Settings(data_dir=tmp_path)
    first = settings.resolved_secret()
    assert len(first) == 64 and Settings(data_dir=tmp_path).resolved_secret() == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_store_timeouts() -> None:
    defaults = Settings()
    assert (defaults.store_connect_timeout_s, defaults.store_query_timeout_s) == (2.0, 300.0)
    settings = Settings.from_env({"INTERESTGRAPH_STORE_CONNECT_TIMEOUT": "0.5",
                                  "INTERESTGRAPH_STORE_QUERY_TIMEOUT": "30"})
    assert (settings.store_connect_timeout_s, settings.store_query_timeout_s) == (0.5, 30.0)


def test_broker_and_request_timeouts() -> None:
    defaults = Settings()
    assert (defaults.broker_timeout_s, defaults.request_timeout_s) == (5.0, 1.5)
    settings = Settings.from_env({"INTERESTGRAPH_BROKER_TIMEOUT": "4",
                                  "INTERESTGRAPH_REQUEST_TIMEOUT": "1"})
    assert (settings.broker_timeout_s, settings.request_timeout_s) == (4.0, 1.0)
