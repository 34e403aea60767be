"""The Cypher catalog: every query the platform runs, loaded by name from ``cypher/``.

One query per file, ``cypher/<area>/<verb>_<noun>.cypher``. A file below a folder named after a
backend (``cypher/schema/neo4j/…``) belongs to that backend only and is known without that folder
(``schema/001_constraints``); everything else is shared. The header comment (``//`` lines at the
top) is the query's documentation. Unknown names fail at start-up, not at request time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import LiteralString, cast

BACKENDS = ("falkordb", "neo4j")


class UnknownQuery(KeyError):
    """A query name that no file in the catalog provides."""


@dataclass(frozen=True)
class Query:
    """One catalog query."""

    name: str
    text: LiteralString
    doc: str
    path: Path

    def statements(self) -> list[LiteralString]:
        """The ``;``-separated statements of a multi-statement file (schema DDL)."""
        code = "\n".join(
            line for line in self.text.splitlines() if not line.strip().startswith("//")
        )
        parts = [p.strip() for p in code.split(";")]
        return [cast(LiteralString, p) for p in parts if p]  # type: ignore[redundant-cast]


def _header(text: str) -> str:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("//"):
            break
        lines.append(stripped.removeprefix("//").strip())
    return "\n".join(lines)


class CypherCatalog(Mapping[str, Query]):
    """A read-only mapping of query name → :class:`Query` for one backend."""

    def __init__(self, queries: Mapping[str, Query], backend: str) -> None:
        self._queries = dict(queries)
        self.backend = backend

    @classmethod
    def load(cls, root: Path, backend: str) -> CypherCatalog:
        """Read every ``*.cypher`` under ``root`` that is shared or belongs to ``backend``.

        Raises:
            ValueError: unknown backend, a missing folder, or two files with the same name.
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
        if not root.is_dir():
            raise ValueError(f"Cypher folder {root} does not exist (set INTERESTGRAPH_CYPHER_DIR)")
        queries: dict[str, Query] = {}
        for path in sorted(root.rglob("*.cypher")):
            parts = path.relative_to(root).with_suffix("").parts
            owners = [p for p in parts if p in BACKENDS]
            if owners and owners[0] != backend:
                continue
            name = "/".join(p for p in parts if p not in BACKENDS)
            if name in queries:
                raise ValueError(f"two Cypher files are both named {name!r}: {path}")
            # The catalog is the one place where file text becomes the LiteralString drivers want.
            text = cast(LiteralString, path.read_text(encoding="utf-8").strip())  # type: ignore[redundant-cast]
            queries[name] = Query(name, text, _header(text), path)
        return cls(queries, backend)

    def __getitem__(self, name: str) -> Query:
        try:
            return self._queries[name]
        except KeyError:
            raise UnknownQuery(f"no Cypher query named {name!r} in the catalog") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)

    def require(self, *names: str) -> None:
        """Fail now if any of ``names`` is missing (called by repositories at construction)."""
        missing = [n for n in names if n not in self._queries]
        if missing:
            raise UnknownQuery(f"Cypher catalog ({self.backend}) lacks: {', '.join(missing)}")
