// Saved audiences (all, or the one with id $id), newest first. Read-only.
// $id: string or null
MATCH (a:Audience)
WHERE $id IS NULL OR a.id = $id
RETURN a.id AS id, a.name AS name, a.rule AS rule, a.arms AS arms, a.target AS target,
       a.experiment_key AS experiment_key, a.status AS status, a.created_at AS created_at,
       a.started_at AS started_at, a.evaluated_at AS evaluated_at, a.size AS size,
       a.arm_sizes AS arm_sizes, a.version AS version, a.start_version AS start_version,
       a.refresh_version AS refresh_version, a.versions AS versions, a.sizes AS sizes,
       a.evaluated AS evaluated
ORDER BY created_at DESC, id
