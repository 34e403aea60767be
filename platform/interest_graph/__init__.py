"""Interest Graph: e-commerce behaviour as a living user-item interest graph."""

from __future__ import annotations

__version__ = "0.1.0"
