// Full refresh: the node-level results of $version for a batch of users (embedding, segment-map
// position, segment, customer value), written in batches before `activate_refresh` switches
// readers to $version, so that no transaction grows with the number of users (Neo4j bounds a
// transaction's memory; a 16x refresh in one query went past it on a 2 GB heap).
// Readers that join these with versioned results check the version: the segment is read through
// the active version's IN_SEGMENT edge, the map keeps users whose segment is the active one's.
// Neo4j 5 vector indexes read LIST<FLOAT> properties. Idempotent.
// $now: float;
// $rows: list<{id, embedding: list<float>, x, y, segment, segment_label, recency_days, frequency,
//   monetary, rfm_score, tier, expected_purchases, expected_value, p_alive, churn_risk,
//   seen: float|null (the updated_at the pull read: the user is scored through it)}>
UNWIND $rows AS row
MATCH (u:User {id: row.id})
SET u.embedding = row.embedding, u.map_x = row.x, u.map_y = row.y,
    u.segment = row.segment, u.segment_label = row.segment_label,
    u.recency_days = row.recency_days, u.frequency = row.frequency, u.monetary = row.monetary,
    u.rfm_score = row.rfm_score, u.value_tier = row.tier,
    u.expected_purchases = row.expected_purchases, u.expected_value = row.expected_value,
    u.p_alive = row.p_alive, u.churn_risk = row.churn_risk, u.scored_at = $now,
    u.scored_through = coalesce(row.seen, u.scored_through)
RETURN count(*) AS users
