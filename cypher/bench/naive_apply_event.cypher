// Benchmark baseline only: one event per query, the way a naive integration would write it.
// Not idempotent (no event marker). $user, $item: string; $ts, $weight: float
MERGE (u:User {id: $user})
MERGE (i:Item {id: $item})
MERGE (u)-[r:INTERACTED]->(i)
ON CREATE SET r.first_ts = $ts, r.last_ts = $ts, r.weight = 0.0, r.n_purchase = 0
SET r.weight = r.weight + $weight,
    r.n_purchase = r.n_purchase + 1,
    r.last_ts = CASE WHEN $ts > r.last_ts THEN $ts ELSE r.last_ts END
