// Users' segment under $version. Past versions' edges stay as segment history. Idempotent.
// $version: string; $rows: list<{user, segment, distance: float}>; $now: float
UNWIND $rows AS row
MATCH (u:User {id: row.user})
MATCH (s:Segment {id: row.segment})
MERGE (u)-[r:IN_SEGMENT {version: $version}]->(s)
SET r.distance = row.distance, r.assigned_at = $now
