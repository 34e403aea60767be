"""What the test sessions' servers (Neo4j, Kafka) share: reading a launcher's ``KEY=value`` lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

from interest_graph.settings import REPO_ROOT

START_TIMEOUT_S = 300


def started_lines(starter: subprocess.Popen[str], what: str, launcher: Path, state: Path,
                  hint: str, problem: type[Exception]) -> dict[str, str]:
    """Wait for ``launcher start`` to finish; its ``KEY=value`` lines, or ``problem`` naming
    ``what`` failed, with ``hint`` (what it needs, or how to use a server of one's own)."""
    try:
        out, err = starter.communicate(timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        starter.kill()
        raise problem(f"{what} did not start within {START_TIMEOUT_S}s "
                      f"(log: {state / 'server.log'})") from None
    if starter.returncode != 0:
        raise problem(f"starting {what} with {launcher.relative_to(REPO_ROOT)} failed:\n"
                      f"{err.strip()}\n{hint}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
