"""Event ingestion: validation, pseudonymisation, dataset readers and batched idempotent writes."""
