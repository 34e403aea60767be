"""The production compose file: valid, complete, and the API image without torch."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from interest_graph.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"


def test_services_health_checks_and_extras() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert set(services) == {"neo4j", "redis", "api", "worker", "beat"}
    assert services["neo4j"]["image"].startswith("neo4j:5")
    assert any(v.startswith("neo4j-data:") for v in services["neo4j"]["volumes"])
    for name in ("neo4j", "redis", "api", "worker"):
        assert "healthcheck" in services[name], name
    assert services["api"]["build"]["args"]["EXTRAS"] == "api"
    assert services["worker"]["build"]["args"]["EXTRAS"] == "workers"
    assert services["api"]["depends_on"]["neo4j"]["condition"] == "service_healthy"


def test_docker_compose_config_validates() -> None:
    if shutil.which("docker-compose"):
        cmd = ["docker-compose", "config", "-q"]
    elif shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                   capture_output=True).returncode == 0:
        cmd = ["docker", "compose", "config", "-q"]
    else:
        pytest.skip("no docker compose client installed")
    env = {**os.environ, "NEO4J_PASSWORD": "x", "INTERESTGRAPH_SECRET": "y"}
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
