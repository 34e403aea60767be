"""Pseudonymisation: raw user ids never reach the graph.

A user id becomes keyed BLAKE2b of ``"user:" + id`` (hex, 128 bits; BLAKE2b's key mode is a MAC,
as HMAC is, and about three times faster). The mapping is
reproducible from the secret, so the API can find a user from the id an application knows, and
without the secret nobody can go back from the graph to the raw id. Event ids are hashed the same
way (they may embed user ids) and serve only to apply each event exactly once.
"""

from __future__ import annotations

import hashlib


class Pseudonymiser:
    """Keyed hashing of user and event ids. ``enabled=False`` keeps user ids as given."""

    def __init__(self, secret: str, *, enabled: bool = True, cache_size: int = 200_000) -> None:
        if not secret:
            raise ValueError("the pseudonymisation secret must not be empty")
        # BLAKE2b keys are at most 64 bytes: longer secrets are hashed down first.
        self._key = hashlib.sha256(secret.encode("utf-8")).digest()
        self.enabled = enabled
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def _digest(self, kind: str, value: str, size: int) -> str:
        data = f"{kind}:{value}".encode()
        return hashlib.blake2b(data, key=self._key, digest_size=size).hexdigest()

    def user(self, raw_id: str) -> str:
        """The graph id of a user."""
        if not self.enabled:
            return raw_id
        cached = self._cache.get(raw_id)
        if cached is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            cached = self._cache[raw_id] = "u" + self._digest("user", raw_id, 16)
        return cached

    def event(self, raw_id: str) -> str:
        """The stored marker of an event id (96 bits: collisions are negligible below 10^12)."""
        return self._digest("event", raw_id, 12)


def text_hash(text: str) -> str:
    """Content hash used as the text-embedding cache key."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
