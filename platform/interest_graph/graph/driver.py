"""One interface, two adapters: FalkorDB (native client) and Neo4j (official driver).

Adapters run catalog queries by name with bound parameters only, return plain dicts, and translate
driver exceptions into the platform's own (:mod:`interest_graph.errors`).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as CallTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, LiteralString, Protocol, TypeVar

from ..errors import Conflict, GraphUnavailable, QueryError
from ..settings import GraphTarget, Settings
from .cypher import CypherCatalog

log = logging.getLogger(__name__)

Row = dict[str, Any]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
TRANSIENT_ATTEMPTS = 5  # Neo4j: tries of a query that fails on a transient error (deadlock)
CALL_THREADS = 32  # Neo4j: calls under a client-side deadline at once (per store)
T = TypeVar("T")
_COUNT_PARAM = re.compile(r"(?:LIMIT|SKIP)\s+\$([A-Za-z_][A-Za-z0-9_]*)")


def explain_params(text: str) -> dict[str, Any]:
    """Stand-in values for planning a query: null for each parameter, 1 for LIMIT/SKIP counts."""
    params: dict[str, Any] = {p: None for p in _PARAM.findall(text)}
    params.update({p: 1 for p in _COUNT_PARAM.findall(text)})
    return params


def _map_keys(value: Any, keys: set[str]) -> None:
    if isinstance(value, dict):
        keys.update(value)
        for item in value.values():
            if isinstance(item, (dict, list)):
                _map_keys(item, keys)
    elif isinstance(value, list) and value:
        if all(isinstance(v, dict) for v in value):
            keys.update(*value)
            nested = [v for row in value for v in row.values() if isinstance(v, (dict, list))]
            if nested:
                _map_keys(nested, keys)
        else:
            for item in value:
                if isinstance(item, (dict, list)):
                    _map_keys(item, keys)


def cypher_params_header(params: Mapping[str, Any]) -> str | None:
    """A ``CYPHER name=value …`` prefix built with the C JSON encoder, or None to fall back.

    A Cypher map literal is JSON with bare keys. In JSON only a key is a quoted string followed by
    ``:`` (quotes inside strings are escaped), so replacing ``"key":`` by ``key:`` for each map key
    cannot touch string values. FalkorDB does not decode ``\\uXXXX`` escapes, so text that needs
    them (control characters) and non-finite numbers use the client's own, slower encoder.
    """
    keys: set[str] = set()
    _map_keys(dict(params), keys)
    if not all(_IDENTIFIER.fullmatch(k) for k in keys):
        return None
    parts = ["CYPHER"]
    for name, value in params.items():
        try:
            literal = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return None
        if "\\u" in literal or "\\r" in literal:
            return None
        if isinstance(value, (dict, list)):
            for key in keys:
                literal = literal.replace(f'"{key}":', f"{key}:")
        parts.append(f"{name}={literal}")
    return " ".join(parts) + " "


@dataclass(frozen=True)
class Prepared:
    """A write with its parameters already encoded (so encoding can happen on another thread)."""

    name: str
    payload: Any


class GraphStore(Protocol):
    """What repositories need from a graph database."""

    backend: str
    catalog: CypherCatalog

    def read(self, name: str, **params: Any) -> list[Row]: ...

    def write(self, name: str, **params: Any) -> list[Row]: ...

    def prepare(self, name: str, **params: Any) -> Prepared: ...

    def execute(self, prepared: Prepared) -> list[Row]: ...

    def explain(self, name: str) -> None: ...

    def init_schema(self) -> None: ...

    def ping(self) -> None: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


_SCALARS = (str, int, float, type(None))  # bool is an int


def _plain(value: Any) -> Any:
    """FalkorDB Node/Edge/Path objects → plain dicts and lists."""
    if isinstance(value, list):
        # A refresh pulls millions of list entries (the edges of each user): lists of scalars,
        # the usual case, are kept as they are rather than converted entry by entry.
        if all(isinstance(v, _SCALARS) for v in value):
            return value
        return [_plain(v) for v in value]
    props = getattr(value, "properties", None)
    if isinstance(props, dict):
        return dict(props)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class FalkorStore:
    """FalkorDB through its native client (not the Bolt port, which breaks on batched parameters)."""

    backend = "falkordb"

    def __init__(self, host: str, port: int, graph: str, catalog: CypherCatalog,
                 password: str | None = None, *, connect_timeout_s: float = 2.0,
                 query_timeout_s: float | None = None) -> None:
        import redis

        self._redis_errors = redis
        self.catalog = catalog
        self.graph_name = graph
        # Every socket operation is bounded and not retried inside the client, so a stopped or
        # frozen server fails within the timeout; the client reconnects by itself when it
        # returns. A query (one socket read) may take up to query_timeout_s, which must cover
        # the longest refresh write.
        self._options = dict(host=host, port=port, password=password or None,
                             socket_connect_timeout=connect_timeout_s,
                             socket_timeout=query_timeout_s)
        self._connecting = threading.Lock()
        self._db: Any = None
        self._graph: Any = None

    def _connected(self) -> Any:
        """The graph handle, connecting on first use (a server down at start is a 503, not a crash)."""
        if self._graph is None:
            import falkordb

            with self._connecting, self._translate("connect"):
                if self._graph is None:
                    self._db = falkordb.FalkorDB(**self._options)
                    self._graph = self._db.select_graph(self.graph_name)
        return self._graph

    @contextmanager
    def _translate(self, name: str) -> Iterator[None]:
        redis = self._redis_errors
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
            raise GraphUnavailable(f"graph store unavailable while running {name!r}: {exc}") from exc
        except redis.ResponseError as exc:
            message = str(exc)
            if "unique constraint" in message.lower():
                raise Conflict(f"{name}: {message}") from exc
            raise QueryError(f"{name}: {message}") from exc

    def _run(self, name: str, params: Mapping[str, Any], read_only: bool,
             encoded: tuple[str, dict[str, Any] | None] | None = None) -> list[Row]:
        text: str = self.catalog[name].text
        header, query_params = encoded if encoded is not None else self._encode(params)
        try:
            with self._translate(name):
                graph = self._connected()
                if read_only:
                    result = graph.ro_query(header + text, query_params)
                else:
                    result = graph.query(header + text, query_params)
        except QueryError as exc:
            # A graph that was never written has no key yet: reading it finds nothing.
            if read_only and "empty key" in str(exc):
                return []
            raise
        raw = [h[1] if isinstance(h, (list, tuple)) else h for h in (result.header or [])]
        columns = [h.decode() if isinstance(h, bytes) else str(h) for h in raw]
        return [dict(zip(columns, (_plain(v) for v in row))) for row in result.result_set]

    @staticmethod
    def _encode(params: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
        header = cypher_params_header(params) if params else ""
        return ("", dict(params)) if header is None else (header, None)

    def read(self, name: str, **params: Any) -> list[Row]:
        return self._run(name, params, read_only=True)

    def write(self, name: str, **params: Any) -> list[Row]:
        return self._run(name, params, read_only=False)

    def prepare(self, name: str, **params: Any) -> Prepared:
        self.catalog[name]  # unknown names fail here, not on the writer thread
        return Prepared(name, self._encode(params))

    def execute(self, prepared: Prepared) -> list[Row]:
        return self._run(prepared.name, {}, read_only=False, encoded=prepared.payload)

    def explain(self, name: str) -> None:
        text = self.catalog[name].text
        with self._translate(name):
            self._connected().explain(text, explain_params(text))

    def init_schema(self) -> None:
        for name in sorted(n for n in self.catalog if n.startswith("schema/")):
            for statement in self.catalog[name].statements():
                try:
                    with self._translate(name):
                        self._connected().query(statement)
                except QueryError as exc:
                    # FalkorDB has no IF NOT EXISTS for indexes: an existing one is success.
                    if "already indexed" not in str(exc) and "already exists" not in str(exc):
                        raise

    def ping(self) -> None:
        with self._translate("ping"):
            self._connected()
            self._db.connection.ping()

    def clear(self) -> None:
        """Delete the whole graph (tests and ``interestgraph reset``)."""
        try:
            with self._translate("clear"):
                self._connected().delete()
        except QueryError as exc:
            if "empty key" not in str(exc).lower():
                raise
        self._graph = self._db.select_graph(self.graph_name)

    def close(self) -> None:
        if self._db is None:
            return
        try:
            self._db.connection.close()
        except Exception:  # noqa: BLE001 - closing must not raise
            log.debug("closing FalkorDB connection failed", exc_info=True)


class Neo4jStore:
    """Neo4j 5 through the official driver, with managed transactions only."""

    backend = "neo4j"

    def __init__(self, uri: str, user: str, password: str, database: str,
                 catalog: CypherCatalog, *, connect_timeout_s: float = 2.0,
                 query_timeout_s: float | None = None) -> None:
        import neo4j

        self._neo4j = neo4j
        self.catalog = catalog
        self.database = database
        self.query_timeout_s = query_timeout_s
        # The driver has no read timeout: a frozen server (or network) holds a call until TCP
        # gives up, and its retries of a refused connection outlast the connect timeout. So each
        # call also runs under a deadline of query_timeout_s on this side; past it the call is a
        # GraphUnavailable, and its thread ends in the background when the server answers or
        # the connection drops.
        self._calls = (ThreadPoolExecutor(CALL_THREADS, thread_name_prefix="neo4j-call")
                       if query_timeout_s is not None else None)
        self._driver = neo4j.GraphDatabase.driver(
            uri, auth=(user, password),
            # Fail fast when Neo4j is down: the driver's default retries a refused connection
            # for 30 s, holding an API worker or a CLI command that long.
            connection_timeout=connect_timeout_s,
            max_transaction_retry_time=connect_timeout_s,
            # Notifications are for people writing queries, not for a running platform: a young
            # graph lacks property keys that the queries name (UNRECOGNIZED, e.g. 01N52 before
            # the first refresh), aggregations skip nulls by design (GENERIC, 01G11), and schema
            # set-up reports existing indexes (INFORMATION). Deprecations, performance and
            # security warnings still reach the log; the queries are checked in tests.
            notifications_min_severity=neo4j.NotificationMinimumSeverity.WARNING,
            notifications_disabled_classifications=[
                neo4j.NotificationDisabledClassification.UNRECOGNIZED,
                neo4j.NotificationDisabledClassification.GENERIC],
        )

    @contextmanager
    def _translate(self, name: str) -> Iterator[None]:
        exc_mod = self._neo4j.exceptions
        try:
            yield
        except (exc_mod.ServiceUnavailable, exc_mod.SessionExpired) as exc:
            raise GraphUnavailable(f"Neo4j unavailable while running {name!r}: {exc}") from exc
        except exc_mod.ConstraintError as exc:
            raise Conflict(f"{name}: {exc.message}") from exc
        except exc_mod.AuthError as exc:
            raise GraphUnavailable(f"Neo4j refused the credentials: {exc.message}") from exc
        except exc_mod.Neo4jError as exc:
            if "TransactionTimedOut" in (exc.code or ""):
                # Past query_timeout_s, as a FalkorDB socket timeout is: the store is too slow now.
                raise GraphUnavailable(f"Neo4j timed out running {name!r}: {exc.message}") from exc
            raise QueryError(f"{name}: {exc.message}") from exc
        except exc_mod.DriverError as exc:
            raise GraphUnavailable(f"Neo4j driver error while running {name!r}: {exc}") from exc

    def _bounded(self, name: str, call: Callable[[], T]) -> T:
        """``call()`` within ``query_timeout_s`` (server-side timeouts cannot bound a frozen server)."""
        if self._calls is None:
            return call()
        future = self._calls.submit(call)
        try:
            return future.result(timeout=self.query_timeout_s)
        except CallTimeout:
            future.cancel()
            raise GraphUnavailable(
                f"Neo4j did not answer {name!r} within {self.query_timeout_s:g}s") from None

    def _query(self, text: LiteralString) -> Any:
        """A query with the server-side transaction timeout."""
        return self._neo4j.Query(text, timeout=self.query_timeout_s)

    def _run(self, name: str, params: Mapping[str, Any], read_only: bool) -> list[Row]:
        routing = self._neo4j.RoutingControl.READ if read_only else self._neo4j.RoutingControl.WRITE
        query = self._query(self.catalog[name].text)
        return self._bounded(name, lambda: self._attempts(name, query, params, routing))

    def _attempts(self, name: str, query: Any, params: Mapping[str, Any],
                  routing: Any) -> list[Row]:
        attempt = 0
        while True:
            try:
                with self._translate(name):
                    records, _, _ = self._driver.execute_query(
                        query, dict(params), database_=self.database, routing_=routing)
                return [record.data() for record in records]
            except QueryError as exc:
                # The driver retries transient errors (deadlocks between concurrent writers)
                # only for the short connect timeout, so that a down server fails fast; a
                # deadlock deserves more patience than that.
                transient = isinstance(exc.__cause__, self._neo4j.exceptions.TransientError)
                attempt += 1
                if not transient or attempt >= TRANSIENT_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0.5, 1.0) * 2**attempt)

    def read(self, name: str, **params: Any) -> list[Row]:
        return self._run(name, params, read_only=True)

    def write(self, name: str, **params: Any) -> list[Row]:
        return self._run(name, params, read_only=False)

    def prepare(self, name: str, **params: Any) -> Prepared:
        self.catalog[name]
        return Prepared(name, dict(params))

    def execute(self, prepared: Prepared) -> list[Row]:
        return self._run(prepared.name, prepared.payload, read_only=False)

    def explain(self, name: str) -> None:
        text = self.catalog[name].text
        with self._translate(name):
            self._driver.execute_query(f"EXPLAIN {text}", explain_params(text),
                                       database_=self.database)

    def init_schema(self) -> None:
        for name in sorted(n for n in self.catalog if n.startswith("schema/")):
            for statement in self.catalog[name].statements():
                with self._translate(name):
                    self._driver.execute_query(statement, database_=self.database)

    def ping(self) -> None:
        with self._translate("ping"):
            self._bounded("ping", self._driver.verify_connectivity)

    def clear(self) -> None:
        self.run_batched("admin/clear_graph")

    def run_batched(self, name: str) -> None:
        """Run a maintenance query of ``CALL … IN TRANSACTIONS`` statements (Neo4j only): they
        need auto-commit transactions, hence session.run, and take no parameters."""
        with self._translate(name), self._driver.session(database=self.database) as session:
            for statement in self.catalog[name].statements():
                session.run(statement).consume()

    def close(self) -> None:
        if self._calls is not None:
            self._calls.shutdown(wait=False, cancel_futures=True)
        self._driver.close()


def open_store(settings: Settings, *, start_embedded: bool = True) -> GraphStore:
    """Connect to the configured store, starting the embedded server if that is the target.

    Raises:
        GraphUnavailable: the store cannot be reached.
    """
    target: GraphTarget = settings.target()
    catalog = CypherCatalog.load(settings.cypher_dir, target.backend)
    if target.backend == "neo4j":
        return Neo4jStore(target.uri, target.user, target.password, target.database, catalog,
                          connect_timeout_s=settings.store_connect_timeout_s,
                          query_timeout_s=settings.store_query_timeout_s)
    host, port = target.host, target.port
    if target.embedded:
        from ..server import EmbeddedServer

        server = EmbeddedServer(settings.data_dir, settings.embedded_port)
        status = server.start() if start_embedded else server.status()
        if status is None:
            raise GraphUnavailable(
                f"no embedded server is running for {settings.data_dir}; run 'interestgraph server start'"
            )
        port = status.port
    return FalkorStore(host, port, target.graph, catalog, target.password or None,
                       connect_timeout_s=settings.store_connect_timeout_s,
                       query_timeout_s=settings.store_query_timeout_s)
