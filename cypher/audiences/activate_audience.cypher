// Makes membership version $version the one readers follow and records its size and history;
// the first activation also starts the experiment (start_version, started_at). Idempotent.
// $audience, $version: string; $refresh: string or null (active refresh); $now: float;
// $size: int; $arm_sizes: list<int> (in the order of the arms);
// $versions: list<string>, $sizes: list<int>, $evaluated: list<float> (kept history, oldest first)
MATCH (a:Audience {id: $audience})
SET a.version = $version, a.size = $size, a.arm_sizes = $arm_sizes, a.evaluated_at = $now,
    a.refresh_version = $refresh, a.status = 'active',
    a.start_version = coalesce(a.start_version, $version),
    a.started_at = coalesce(a.started_at, $now),
    a.versions = $versions, a.sizes = $sizes, a.evaluated = $evaluated
RETURN a.id AS id
