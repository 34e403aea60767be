"""Settings: one frozen object built from the environment at entry points and passed down.

Every variable has the prefix ``INTERESTGRAPH_``; the README documents them as a table. No other
module reads ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ConfigError

PREFIX = "INTERESTGRAPH_"
REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "view": 1.0,
    "click": 1.0,
    "search": 1.0,
    "wishlist": 2.0,
    "cart": 3.0,
    "purchase": 5.0,
    "return": -5.0,
    "review": 4.0,
    "rating": 5.0,  # scaled by rating / 5
}


@dataclass(frozen=True)
class GraphTarget:
    """Where the graph lives: the embedded server, a FalkorDB server, or Neo4j."""

    backend: str  # "falkordb" | "neo4j"
    embedded: bool
    host: str = "127.0.0.1"
    port: int = 0
    graph: str = "interest"
    uri: str = ""
    user: str = "neo4j"
    password: str = ""
    database: str = "neo4j"


@dataclass(frozen=True)
class Settings:
    """Every knob of the platform. Build with :meth:`from_env`; tests build it directly."""

    data_dir: Path = field(default_factory=lambda: Path(".interestgraph").resolve())
    graph_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str = "neo4j"
    #: ``interestgraph load --bulk``: the command that runs ``neo4j-admin database import full``
    #: with the arguments file it is given last, the database offline (see docs/scale.md).
    neo4j_import_command: str | None = None
    store_connect_timeout_s: float = 2.0
    store_query_timeout_s: float = 300.0
    broker_url: str | None = None
    result_backend: str | None = None
    secret: str | None = None
    pseudonymise: bool = True
    embedded_port: int | None = None
    graph_name: str = "interest"
    batch_size: int = 5000
    read_page_size: int = 20000
    half_life_days: float = 30.0
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    datasets_dir: Path = field(default_factory=lambda: (REPO_ROOT.parent / "shared" / "datasets"))
    cypher_dir: Path = field(default_factory=lambda: REPO_ROOT / "cypher")
    api_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    top_k: int = 20
    device: str | None = None
    refresh_lock_ttl_s: int = 600
    incremental_every_s: float = 60.0
    full_refresh_hour: int = 2
    segment_history: int = 30
    train_epochs: int = 40
    seed: int = 0
    encoder: str = "minilm"
    #: ``full``: the served model's variants and blend weights are chosen from the whole grids;
    #: ``quick``: each grid cut to its middle value, one blend ascent (tests, a first look).
    model_search: str = "full"
    # Bounded failure: no broker call waits longer than this, no API request on the store or
    # the broker longer than request_timeout_s per call (seconds).
    broker_timeout_s: float = 5.0
    request_timeout_s: float = 1.5  # the API's cap on each store and broker call (then 503)
    #: Users per shard of a full refresh's score+write stage; graphs with more users are scored
    #: in shards that every worker shares (see docs/scale.md).
    shard_users: int = 5000
    #: Users with a profile the final k-means of the segments is fitted on (an evenly spaced
    #: sample when there are more; every user is then assigned to the nearest centroid).
    segment_fit_users: int = 50000
    #: Catalogues larger than this leave the dense items × items terms (EASE) out of the blend.
    dense_item_limit: int = 8000
    #: Users the model's choices (epochs, variants, blend) are made on: above this many, a seeded
    #: sample of them with their edges; the chosen model is then fitted on every user.
    select_users: int = 20000
    #: Graphs with more edges than this train the GCN on sampled subgraphs (a share of the users
    #: with all their edges per step) instead of propagating over the whole graph every step;
    #: 0: never (the default: on CPU, full-batch reached a better model in less time up to 16×
    #: Online Retail, see docs/scale.md).
    sampled_edges: int = 0
    #: Scheduling priority (nice value, 0-19) the worker processes run at: refreshes are batch
    #: work and yield the CPU to the API and the store on a shared machine. 0 disables it.
    worker_nice: int = 10
    #: Kafka for ``interestgraph consume`` (and ``up``, which starts a consumer when it is set):
    #: ``KAFKA_BOOTSTRAP`` (as ``make kafka`` prints it) or ``INTERESTGRAPH_KAFKA_BOOTSTRAP``.
    kafka_bootstrap: str | None = None
    kafka_topic: str = "interestgraph.events"
    kafka_group: str = "interestgraph"
    kafka_format: str = "generic"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"{PREFIX}BATCH_SIZE must be at least 1, got {self.batch_size}")
        if self.encoder not in ("minilm", "hashing"):
            raise ConfigError(f"{PREFIX}ENCODER must be minilm or hashing, got {self.encoder!r}")
        if self.model_search not in ("full", "quick"):
            raise ConfigError(f"{PREFIX}MODEL_SEARCH must be full or quick, "
                              f"got {self.model_search!r}")
        if self.segment_fit_users < 100:
            raise ConfigError(f"{PREFIX}SEGMENT_FIT_USERS must be at least 100, "
                              f"got {self.segment_fit_users}")
        if self.shard_users < 1:
            raise ConfigError(f"{PREFIX}SHARD_USERS must be at least 1, got {self.shard_users}")
        if not 0 <= self.worker_nice <= 19:
            raise ConfigError(f"{PREFIX}WORKER_NICE must be 0-19, got {self.worker_nice}")
        if self.kafka_format not in ("generic", "segment"):
            raise ConfigError(f"{PREFIX}KAFKA_FORMAT must be generic or segment, "
                              f"got {self.kafka_format!r}")
        if self.train_epochs < 1:
            raise ConfigError(f"{PREFIX}TRAIN_EPOCHS must be at least 1, got {self.train_epochs}")
        if not 0 <= self.full_refresh_hour <= 23:
            raise ConfigError(f"{PREFIX}FULL_REFRESH_HOUR must be 0-23, got {self.full_refresh_hour}")
        if self.half_life_days <= 0:
            raise ConfigError(f"{PREFIX}HALF_LIFE_DAYS must be positive, got {self.half_life_days}")
        for name, value in (("STORE_CONNECT_TIMEOUT", self.store_connect_timeout_s),
                            ("STORE_QUERY_TIMEOUT", self.store_query_timeout_s),
                            ("BROKER_TIMEOUT", self.broker_timeout_s),
                            ("REQUEST_TIMEOUT", self.request_timeout_s)):
            if not value > 0:
                raise ConfigError(f"{PREFIX}{name} must be a positive number of seconds, got {value}")
        self.target()  # fail at start-up on a malformed URI

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``INTERESTGRAPH_*`` variables (``environ`` defaults to os.environ)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value if value not in (None, "") else None

        kwargs: dict[str, Any] = {}
        if (v := get("DATA_DIR")) is not None:
            kwargs["data_dir"] = Path(v).expanduser().resolve()
        if (v := get("DATASETS_DIR")) is not None:
            kwargs["datasets_dir"] = Path(v).expanduser().resolve()
        if (v := get("CYPHER_DIR")) is not None:
            kwargs["cypher_dir"] = Path(v).expanduser().resolve()
        for name, key in (
            ("GRAPH_URI", "graph_uri"),
            ("BROKER_URL", "broker_url"),
            ("RESULT_BACKEND", "result_backend"),
            ("SECRET", "secret"),
            ("GRAPH_NAME", "graph_name"),
            ("DEVICE", "device"),
            ("ENCODER", "encoder"),
            ("MODEL_SEARCH", "model_search"),
            ("KAFKA_BOOTSTRAP", "kafka_bootstrap"),
            ("KAFKA_TOPIC", "kafka_topic"),
            ("KAFKA_GROUP", "kafka_group"),
            ("KAFKA_FORMAT", "kafka_format"),
        ):
            if (v := get(name)) is not None:
                kwargs[key] = v
        for name, key in (("NEO4J_USER", "neo4j_user"), ("NEO4J_PASSWORD", "neo4j_password"),
                          ("NEO4J_DATABASE", "neo4j_database"),
                          ("NEO4J_IMPORT_COMMAND", "neo4j_import_command")):
            if (v := get(name)) is not None:
                kwargs[key] = v
        for name, key in (("BATCH_SIZE", "batch_size"), ("READ_PAGE_SIZE", "read_page_size"),
                          ("EMBEDDED_PORT", "embedded_port"), ("TOP_K", "top_k"),
                          ("REFRESH_LOCK_TTL", "refresh_lock_ttl_s"),
                          ("FULL_REFRESH_HOUR", "full_refresh_hour"),
                          ("SEGMENT_HISTORY", "segment_history"),
                          ("TRAIN_EPOCHS", "train_epochs"), ("SEED", "seed"),
                          ("SHARD_USERS", "shard_users"),
                          ("SEGMENT_FIT_USERS", "segment_fit_users"),
                          ("DENSE_ITEM_LIMIT", "dense_item_limit"),
                          ("SELECT_USERS", "select_users"),
                          ("SAMPLED_EDGES", "sampled_edges"),
                          ("WORKER_NICE", "worker_nice")):
            if (v := get(name)) is not None:
                kwargs[key] = _int(name, v)
        if (v := get("HALF_LIFE_DAYS")) is not None:
            kwargs["half_life_days"] = _float("HALF_LIFE_DAYS", v)
        for name, key in (("INCREMENTAL_EVERY", "incremental_every_s"),
                          ("STORE_CONNECT_TIMEOUT", "store_connect_timeout_s"),
                          ("STORE_QUERY_TIMEOUT", "store_query_timeout_s"),
                          ("BROKER_TIMEOUT", "broker_timeout_s"),
                          ("REQUEST_TIMEOUT", "request_timeout_s")):
            if (v := get(name)) is not None:
                kwargs[key] = _float(name, v)
        if (v := get("PSEUDONYMISE")) is not None:
            kwargs["pseudonymise"] = _bool("PSEUDONYMISE", v)
        if (v := get("WEIGHTS")) is not None:
            kwargs["weights"] = {**DEFAULT_WEIGHTS, **_pairs("WEIGHTS", v)}
        if (v := get("API_KEYS")) is not None:
            kwargs["api_keys"] = parse_api_keys(v)
        if "kafka_bootstrap" not in kwargs and env.get("KAFKA_BOOTSTRAP"):
            kwargs["kafka_bootstrap"] = env["KAFKA_BOOTSTRAP"]
        kwargs.update(overrides)
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def target(self) -> GraphTarget:
        """Parse :attr:`graph_uri` (unset: the embedded server).

        Raises:
            ConfigError: an unsupported scheme or a malformed URI.
        """
        if self.graph_uri is None:
            return GraphTarget("falkordb", True, graph=self.graph_name)
        parts = urlsplit(self.graph_uri)
        scheme = parts.scheme.lower()
        if scheme in ("falkordb", "redis"):
            graph = parts.path.strip("/") or self.graph_name
            try:
                port = parts.port or 6379
            except ValueError as exc:
                raise ConfigError(f"{PREFIX}GRAPH_URI: bad port ({exc})") from None
            return GraphTarget(
                "falkordb", False, host=parts.hostname or "127.0.0.1", port=port, graph=graph,
                password=unquote(parts.password or ""),
            )
        if scheme in ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"):
            netloc = parts.hostname or "localhost"
            if parts.port:
                netloc += f":{parts.port}"
            database = parts.path.strip("/") or self.neo4j_database
            return GraphTarget(
                "neo4j", False, uri=f"{scheme}://{netloc}", graph=self.graph_name,
                user=unquote(parts.username) if parts.username else self.neo4j_user,
                password=unquote(parts.password) if parts.password else self.neo4j_password,
                database=database,
            )
        raise ConfigError(
            f"{PREFIX}GRAPH_URI: unsupported scheme {scheme!r} "
            "(use falkordb://host:port/graph, neo4j:// or bolt://, or leave unset for embedded)"
        )

    def broker(self) -> str:
        """The Celery broker URL: the setting, else the embedded server's Redis (started if needed)."""
        if self.broker_url:
            return self.broker_url
        from .server import EmbeddedServer

        status = EmbeddedServer(self.data_dir, self.embedded_port).start()
        return f"{status.redis_url}/1"

    def backend(self, broker: str | None = None) -> str:
        """The Celery result backend URL (default: the broker's server, database 2).

        Pass the already resolved ``broker`` to spare a second look-up of the embedded server.
        """
        if self.result_backend:
            return self.result_backend
        broker = broker or self.broker()
        return broker.rsplit("/", 1)[0] + "/2" if broker.startswith("redis") else broker

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def half_life_s(self) -> float:
        return self.half_life_days * 86400.0

    def resolved_secret(self) -> str:
        """The pseudonymisation secret: the setting, else one kept in the data directory.

        The generated secret is written once (mode 0600) so the user-id mapping is reproducible
        across restarts; back it up together with the data.
        """
        if self.secret:
            return self.secret
        path = self.data_dir / "secret.key"
        try:
            return path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            pass
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(value)
        return value


def parse_api_keys(value: str) -> dict[str, frozenset[str]]:
    """``key1:read,key2:read+write`` → ``{key1: {read}, key2: {read, write}}``."""
    keys: dict[str, frozenset[str]] = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        key, _, scopes = entry.partition(":")
        scope_set = frozenset(s for s in (scopes or "read").split("+") if s)
        unknown = scope_set - {"read", "write"}
        if not key or unknown:
            raise ConfigError(f"{PREFIX}API_KEYS: bad entry (use KEY:read or KEY:read+write)")
        keys[key] = scope_set
    return keys


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be an integer, got {value!r}") from None


def _float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number, got {value!r}") from None


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{PREFIX}{name} must be true or false, got {value!r}")


def _pairs(name: str, value: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        key, sep, number = entry.partition("=")
        if not sep:
            raise ConfigError(f"{PREFIX}{name}: expected type=weight pairs, got {entry!r}")
        out[key.strip()] = _float(name, number)
    return out
