from __future__ import annotations

import re
from pathlib import Path

import pytest

from interest_graph.graph.cypher import CypherCatalog, UnknownQuery
from interest_graph.settings import REPO_ROOT

CYPHER = REPO_ROOT / "cypher"


def test_backend_files_are_named_without_the_backend_folder() -> None:
    falkor = CypherCatalog.load(CYPHER, "falkordb")
    neo = CypherCatalog.load(CYPHER, "neo4j")
    assert "schema/001_indexes" in falkor and "schema/001_indexes" not in neo
    assert "schema/001_constraints" in neo
    assert falkor["api/get_user"].text == neo["api/get_user"].text
    assert falkor["ingest/apply_events"].path.parent.name == "falkordb"
    assert neo["ingest/apply_events"].path.parent.name == "neo4j"
    assert all("exactly-once" in c["ingest/apply_events"].doc for c in (falkor, neo))


def test_unknown_query_fails_at_construction() -> None:
    catalog = CypherCatalog.load(CYPHER, "falkordb")
    with pytest.raises(UnknownQuery, match="nope/missing"):
        catalog.require("ingest/apply_events", "nope/missing")
    with pytest.raises(ValueError, match="valid: falkordb, neo4j"):
        CypherCatalog.load(CYPHER, "mysql")


def test_duplicate_names_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "neo4j").mkdir()
    (tmp_path / "a" / "q.cypher").write_text("RETURN 1")
    (tmp_path / "a" / "neo4j" / "q.cypher").write_text("RETURN 2")
    assert CypherCatalog.load(tmp_path, "falkordb")["a/q"].text == "RETURN 1"
    with pytest.raises(ValueError, match="two Cypher files"):
        CypherCatalog.load(tmp_path, "neo4j")


def test_schema_files_split_into_statements() -> None:
    schema = CypherCatalog.load(CYPHER, "neo4j")["schema/001_constraints"]
    statements = schema.statements()
    assert len(statements) >= 6 and all(s.startswith("CREATE") for s in statements)


def test_no_cypher_text_in_python_sources() -> None:
    pattern = re.compile(r"\b(MATCH|MERGE|OPTIONAL MATCH|UNWIND|DETACH DELETE)\s*[\(\$]")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{n}"
        for root in ("platform", "workers")
        for path in (REPO_ROOT / root).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_every_relationship_type_a_falkordb_write_merges_is_made_known_by_the_schema() -> None:
    """schema/falkordb/002_relationship_types lists the types by hand; a new MERGEd type left out
    would race into duplicate edges on a fresh graph (tests/integration/test_store_contract.py)."""
    catalog = CypherCatalog.load(CYPHER, "falkordb")
    merged = {t for name in catalog if not name.startswith(("schema/", "bench/"))
              for t in re.findall(r"MERGE\s*\([^)]*\)\s*-\[\s*\w*\s*:(\w+)", catalog[name].text)}
    primed = set(re.findall(r"\[:(\w+)\]", catalog["schema/002_relationship_types"].text))
    assert merged and merged <= primed, sorted(merged - primed)
