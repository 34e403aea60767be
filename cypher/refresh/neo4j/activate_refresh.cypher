// Makes refresh $version the one readers see, in one small atomic query: switches the active
// version, after its node-level results were written in batches (write_user_results,
// write_item_results). Readers filter score edges, segment membership and segments by the active
// version, so they see the old refresh or the new one, never a mix. The refresh it replaces gets
// status 'superseded'. Idempotent.
// $version, $model_version, $model_path: string; $now: float
MERGE (m:Meta {key: 'active_refresh'})
SET m.version = $version, m.model_version = $model_version, m.model_path = $model_path,
    m.completed_at = $now
WITH m
MATCH (r:Refresh {version: $version})
SET r.status = 'active', r.activated_at = $now
WITH r
OPTIONAL MATCH (old:Refresh {status: 'active'})
WHERE old.version <> $version
WITH collect(old) AS olds
FOREACH (o IN olds | SET o.status = 'superseded', o.superseded_at = $now)
RETURN size(olds) AS superseded
