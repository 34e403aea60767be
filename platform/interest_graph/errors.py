"""The platform's own exceptions; driver errors are translated into these at the store boundary."""

from __future__ import annotations


class InterestGraphError(Exception):
    """Base class for every error the platform raises on purpose."""


class ConfigError(InterestGraphError):
    """A setting is missing or malformed."""


class GraphUnavailable(InterestGraphError):
    """The graph store cannot be reached (transient: retry with backoff)."""


class BrokerUnavailable(InterestGraphError):
    """The task broker or result backend cannot be reached (transient: retry with backoff)."""


class QueryError(InterestGraphError):
    """The store rejected a query (a bug in a catalog query or bad parameters)."""


class Conflict(InterestGraphError):
    """A write would break a uniqueness rule."""


class NotFound(InterestGraphError):
    """The requested user, item, segment or task does not exist."""


class ServerError(InterestGraphError):
    """The embedded server could not be started or stopped."""


class DatasetError(InterestGraphError):
    """A dataset name or path cannot be read (unknown name, missing file, unknown format)."""
