"""Interest Graph workers: Celery tasks and pure model pipelines."""

from __future__ import annotations
