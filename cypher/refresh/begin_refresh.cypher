// Records that a refresh started. Idempotent per version.
// $version: string; $kind: string; $now: float
MERGE (r:Refresh {version: $version})
ON CREATE SET r.started_at = $now
SET r.kind = $kind, r.status = 'running'
