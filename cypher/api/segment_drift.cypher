// Drift of the active segmentation: of the users segmented under the active refresh, how many
// lie farther from their segment's centroid than the segment's training limit (its members'
// 95th-percentile distance at the full refresh). About 5% right after a full refresh; the
// incremental refresh places changed users without re-clustering, so the share grows as
// interests move. Read-only. Parameters: none.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User)-[g:IN_SEGMENT]->(s:Segment)
WHERE g.version = m.version AND s.version = m.version
RETURN m.version AS version, count(g) AS users,
       sum(CASE WHEN s.distance_limit IS NOT NULL AND g.distance > s.distance_limit
                THEN 1 ELSE 0 END) AS drifted
