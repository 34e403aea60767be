"""The pipelines' sub-packages import only in the directions their docstrings state."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINES = Path(__file__).resolve().parents[2] / "workers" / "interest_workers" / "pipelines"
#: What each part of ``pipelines`` may import from the others.
ALLOWED = {"model": set(), "segments": set(), "value": set(), "evaluation": {"model"},
           "artefacts": {"model", "segments"}}


def _imported_parts(path: Path, part: str) -> set[str]:
    """The other ``pipelines`` parts that ``path`` (a module of ``part``) imports."""
    # How many leading dots of a relative import reach pipelines/ from this file.
    to_pipelines = 1 if part == "artefacts" else 2
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:
            name = node.module or ""
            if name.startswith("interest_workers.pipelines."):
                found.add(name.split(".")[2])
        elif node.level == to_pipelines:
            head = (node.module or "").split(".")[0]
            found.update([head] if head else [a.name for a in node.names])
    return (found & set(ALLOWED)) - {part}


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_what_it_may(part: str) -> None:
    files = [PIPELINES / "artefacts.py"] if part == "artefacts" else sorted(
        (PIPELINES / part).glob("*.py"))
    assert files
    for f in files:
        extra = _imported_parts(f, part) - ALLOWED[part]
        assert not extra, f"{f.relative_to(PIPELINES)} imports {sorted(extra)}"


def test_the_top_level_holds_no_more_than_three_modules() -> None:
    assert len(list(PIPELINES.glob("*.py"))) <= 3
    for part in ("model", "evaluation", "segments", "value"):
        doc = ast.get_docstring(ast.parse((PIPELINES / part / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), part
