"""The test session's Kafka: the one at ``KAFKA_BOOTSTRAP``, or a throw-away broker the session starts.

Without ``KAFKA_BOOTSTRAP`` the session starts a real Apache Kafka 4 (KRaft, one node that is
broker and controller) with the project's launcher (``tools/kafka-test-server/kafka-server``, the
same one ``make kafka`` runs) in a temporary state folder, as soon as collection shows that a
``kafka`` test will run, so that it boots while other tests run. The launcher watches this
process, so a killed test run leaves no broker behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from interest_graph.settings import REPO_ROOT

from .launched import started_lines

LAUNCHER = REPO_ROOT / "tools" / "kafka-test-server" / "kafka-server"


class KafkaProblem(RuntimeError):
    """The session's Kafka could not be had (the message says why and what to do)."""


class KafkaToolsMissing(KafkaProblem):
    """Java or Maven, which the launcher needs, is not installed."""


def from_environment() -> str | None:
    """The bootstrap address (``host:port``) in ``KAFKA_BOOTSTRAP``, if any."""
    return os.environ.get("KAFKA_BOOTSTRAP") or None


def missing_tools() -> list[str]:
    """What the launcher needs and this machine lacks (Java; Maven until the classpath is built)."""
    missing = [] if shutil.which("java") else ["java"]
    built = (LAUNCHER.parent / "target" / "classpath.txt").is_file()
    if not built and not shutil.which("mvn"):
        missing.append("mvn")
    return missing


class SessionKafka:
    """A Kafka broker started for one test session, stopped at its end."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="interestgraph-kafka-"))
        self._starter: subprocess.Popen[str] | None = None
        self._bootstrap: str | None = None

    def start(self) -> None:
        """Begin starting the broker (returns at once; :meth:`bootstrap` waits)."""
        if self._starter is None and not missing_tools():
            self._starter = subprocess.Popen(
                [str(LAUNCHER), "start", "--state", str(self.state), "--watch-pid", str(os.getpid())],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )

    def bootstrap(self) -> str:
        """Wait until the broker serves; its ``127.0.0.1:PORT``."""
        if self._bootstrap is not None:
            return self._bootstrap
        missing = missing_tools()
        if missing:
            raise KafkaToolsMissing(
                f"{' and '.join(missing)} not found: {LAUNCHER.relative_to(REPO_ROOT)} needs Java 17 "
                "and Maven (`make system-tools`), or point KAFKA_BOOTSTRAP at a Kafka broker")
        self.start()
        assert self._starter is not None
        lines = started_lines(self._starter, "Kafka", LAUNCHER, self.state,
                              "It needs Java 17 and Maven (Maven Central); or point KAFKA_BOOTSTRAP "
                              "at a Kafka broker", KafkaProblem)
        self._bootstrap = lines["KAFKA_BOOTSTRAP"]
        return self._bootstrap

    def stop(self) -> None:
        if self._starter is None:
            shutil.rmtree(self.state, ignore_errors=True)
            return
        if self._starter.poll() is None:
            self._starter.kill()
            self._starter.wait()
        subprocess.run([str(LAUNCHER), "stop", "--state", str(self.state)],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(self.state, ignore_errors=True)
