// Incremental refresh: replaces changed users' results under the active $version in one atomic
// query per batch: node-level results, segment, top-K item and category interests.
// A replaced segment edge keeps the segment the user left in `previous`. Neo4j 5 vector indexes read LIST<FLOAT> properties.
// $version, $model_version: string; $now: float;
// $rows: list<{id, embedding: list<float>, x, y, segment, segment_label, distance,
//   recency_days, frequency, monetary, rfm_score, tier, expected_purchases, expected_value,
//   p_alive, churn_risk, recs: list<{item, score, rank, reason}> (non-empty),
//   categories: list<{name, score}>, seen: float|null (the user's updated_at the refresh read)}>
UNWIND $rows AS row
MATCH (u:User {id: row.id})
SET u.embedding = row.embedding, u.map_x = row.x, u.map_y = row.y,
    u.segment = row.segment, u.segment_label = row.segment_label,
    u.recency_days = row.recency_days, u.frequency = row.frequency, u.monetary = row.monetary,
    u.rfm_score = row.rfm_score, u.value_tier = row.tier,
    u.expected_purchases = row.expected_purchases, u.expected_value = row.expected_value,
    u.p_alive = row.p_alive, u.churn_risk = row.churn_risk, u.scored_at = $now,
    u.scored_through = coalesce(row.seen, u.scored_through)
WITH u, row
OPTIONAL MATCH (u)-[old_seg:IN_SEGMENT {version: $version}]->(prev:Segment)
WITH u, row, collect(prev.id) AS previous, collect(old_seg) AS old_segs
FOREACH (e IN old_segs | DELETE e)
WITH u, row, previous
OPTIONAL MATCH (u)-[old:INTERESTED_IN|INTERESTED_IN_CATEGORY]->()
WHERE old.version = $version
WITH u, row, previous, collect(old) AS olds
FOREACH (e IN olds | DELETE e)
WITH u, row, previous
MATCH (s:Segment {id: row.segment})
CREATE (u)-[:IN_SEGMENT {version: $version, distance: row.distance, assigned_at: $now,
                         previous: CASE WHEN size(previous) > 0 THEN previous[0] ELSE null END}]->(s)
WITH u, row
UNWIND row.recs AS rec
MATCH (i:Item {id: rec.item})
CREATE (u)-[:INTERESTED_IN {version: $version, score: rec.score, rank: rec.rank,
                           reason: rec.reason, model_version: $model_version}]->(i)
WITH DISTINCT u, row
UNWIND row.categories AS cat
MATCH (c:Category {name: cat.name})
CREATE (u)-[:INTERESTED_IN_CATEGORY {version: $version, score: cat.score}]->(c)
RETURN count(DISTINCT u) AS users
