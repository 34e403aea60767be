// Benchmark baseline only: the ingest job one event per query, the way a naive integration would
// write it: skip a known event id, else mark it and MERGE user, item and edge.
// $id, $user, $item: string; $ts, $weight, $now: float
OPTIONAL MATCH (seen:Event {id: $id})
WITH seen
WHERE seen IS NULL
CREATE (:Event {id: $id})
MERGE (u:User {id: $user})
ON CREATE SET u.first_ts = $ts, u.events = 0
SET u.events = u.events + 1, u.last_ts = $ts, u.updated_at = $now
MERGE (i:Item {id: $item})
MERGE (u)-[r:INTERACTED]->(i)
ON CREATE SET r.first_ts = $ts, r.last_ts = $ts, r.weight = 0.0, r.n_purchase = 0
SET r.weight = r.weight + $weight,
    r.n_purchase = r.n_purchase + 1,
    r.last_ts = CASE WHEN $ts > r.last_ts THEN $ts ELSE r.last_ts END
