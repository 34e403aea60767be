// Makes refresh $version the one readers see, in one atomic query: switches the active version and
// writes the node-level results (embeddings, segment-map position, segment, customer value).
// Readers filter score edges by the active version, so they see the old refresh or the new one,
// never a mix. The refresh it replaces gets status 'superseded'.
// FalkorDB stores vectors as vecf32 (what its vector index reads). Run it with the User and Item
// vector indexes dropped (graph/vectors.py: an indexed vecf32 overwritten leaves an orphan in the
// index); each embedding is REMOVEd before it is SET, as a vecf32 set over a vecf32 keeps the
// old value. Idempotent.
// $version, $model_version, $model_path: string; $now: float;
// $users: list<{id, embedding: list<float>, x, y, segment, segment_label, recency_days, frequency,
//   monetary, rfm_score, tier, expected_purchases, expected_value, p_alive, churn_risk,
//   seen: float|null (the updated_at the pull read: the user is scored through it)}>;
// $items: list<{id, embedding: list<float>}>
MERGE (m:Meta {key: 'active_refresh'})
SET m.version = $version, m.model_version = $model_version, m.model_path = $model_path,
    m.completed_at = $now, m.user_vector_writes = 0
WITH m
UNWIND $users AS row
MATCH (u:User {id: row.id})
REMOVE u.embedding
SET u.embedding = vecf32(row.embedding), u.map_x = row.x, u.map_y = row.y,
    u.segment = row.segment, u.segment_label = row.segment_label,
    u.recency_days = row.recency_days, u.frequency = row.frequency, u.monetary = row.monetary,
    u.rfm_score = row.rfm_score, u.value_tier = row.tier,
    u.expected_purchases = row.expected_purchases, u.expected_value = row.expected_value,
    u.p_alive = row.p_alive, u.churn_risk = row.churn_risk, u.scored_at = $now,
    u.scored_through = coalesce(row.seen, u.scored_through)
WITH count(*) AS users
UNWIND $items AS row
MATCH (i:Item {id: row.id})
REMOVE i.embedding
SET i.embedding = vecf32(row.embedding), i.scored_at = $now
WITH users, count(*) AS items
MATCH (r:Refresh {version: $version})
SET r.status = 'active', r.activated_at = $now
WITH users, items
OPTIONAL MATCH (old:Refresh {status: 'active'})
WHERE old.version <> $version
WITH users, items, collect(old) AS olds
FOREACH (o IN olds | SET o.status = 'superseded', o.superseded_at = $now)
RETURN users, items
