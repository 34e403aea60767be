// Recent refreshes, newest first. Read-only. $limit: int
MATCH (r:Refresh)
RETURN r.version AS version, r.kind AS kind, r.status AS status, r.started_at AS started_at,
       r.finished_at AS finished_at, r.stages AS stages, r.stage_seconds AS stage_seconds
ORDER BY started_at DESC
LIMIT $limit
