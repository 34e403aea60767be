"""Celery tasks: thin wrappers that lock, report progress and call :mod:`interest_workers.refresh`."""
