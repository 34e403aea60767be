"""Graph-store access: the only package that imports a database driver."""

from __future__ import annotations

from .cypher import CypherCatalog, Query
from .driver import FalkorStore, GraphStore, Neo4jStore, open_store

__all__ = ["CypherCatalog", "FalkorStore", "GraphStore", "Neo4jStore", "Query", "open_store"]
