"""Experiment arms: weights, and deterministic assignment by a keyed hash of (experiment, user).

A member's arm is ``HMAC-SHA256(key, experiment ‖ user)`` read as a number in [0, 1) and placed
on the arms' cumulative weights. The key derives from the platform secret, so nobody without it
can predict or steer an assignment; the same experiment key and user always give the same arm,
across refreshes, re-evaluations and processes. A new experiment key reshuffles everyone
independently (the A/A test in ``benchmarks/experiments.py`` relies on that).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .rules import RuleError

ARM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
SCORERS = ("model", "popular")
MAX_ARMS = 10
DEFAULT_ARMS: tuple[dict[str, Any], ...] = ({"name": "treatment", "weight": 90},
                                            {"name": "control", "weight": 10})


@dataclass(frozen=True)
class Arm:
    """One arm: its share of members and, for a recommendation experiment, the scorer it is
    served by (``model``: the refresh's INTERESTED_IN; ``popular``: the most-bought items)."""

    name: str
    weight: float
    scorer: str | None = None

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "weight": self.weight}
        if self.scorer is not None:
            out["scorer"] = self.scorer
        return out


def parse_arms(doc: Any, where: str = "arms") -> tuple[Arm, ...]:
    """Validate ``[{name, weight, scorer?}, ...]`` (1 to 10 arms, unique names, weights > 0).

    Raises:
        RuleError: naming the offending place, e.g. ``arms[1].weight``.
    """
    if not isinstance(doc, list) or not 1 <= len(doc) <= MAX_ARMS:
        raise RuleError(where, f"must be a list of 1 to {MAX_ARMS} arms")
    arms: list[Arm] = []
    for n, raw in enumerate(doc):
        at = f"{where}[{n}]"
        if not isinstance(raw, dict):
            raise RuleError(at, "must be an object {name, weight, scorer?}")
        for key in raw:
            if key not in ("name", "weight", "scorer"):
                raise RuleError(f"{at}.{key}", "unknown key; valid here: name, weight, scorer")
        name = raw.get("name")
        if not isinstance(name, str) or not ARM_NAME.fullmatch(name):
            raise RuleError(f"{at}.name", "must be 1-32 characters of a-z, 0-9, '_' or '-'")
        if any(a.name == name for a in arms):
            raise RuleError(f"{at}.name", f"arm {name!r} is named twice")
        weight = raw.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 1e6:
            raise RuleError(f"{at}.weight", "must be a number above 0 (weights are relative)")
        scorer = raw.get("scorer")
        if scorer is not None and scorer not in SCORERS:
            raise RuleError(f"{at}.scorer", f"unknown scorer {scorer!r}; valid: {', '.join(SCORERS)}")
        arms.append(Arm(name, float(weight), scorer))
    return tuple(arms)


class ArmAssigner:
    """Deterministic arm assignment keyed by the platform secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the arm assignment secret must not be empty")
        # A key of its own, so arms reveal nothing about the pseudonymisation key.
        self._key = hashlib.sha256(("interestgraph-arms:" + secret).encode("utf-8")).digest()

    def draw(self, experiment: str, user: str) -> float:
        """The user's uniform draw in [0, 1) for this experiment."""
        message = f"{experiment}\x00{user}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def assign(self, experiment: str, users: Sequence[str], arms: Sequence[Arm]) -> list[str]:
        """The arm name of each user, in order."""
        total = sum(a.weight for a in arms)
        edges: list[float] = []
        running = 0.0
        for arm in arms[:-1]:
            running += arm.weight / total
            edges.append(running)
        names = [a.name for a in arms]
        return [names[bisect.bisect_right(edges, self.draw(experiment, u))] for u in users]
