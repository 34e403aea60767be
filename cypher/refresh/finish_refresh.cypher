// Marks a refresh record done or failed with its stage timings. Idempotent.
// $version: string; $status: string; $now: float; $stages: list<string>; $seconds: list<float>
MATCH (r:Refresh {version: $version})
SET r.status = $status, r.finished_at = $now, r.stages = $stages, r.stage_seconds = $seconds
