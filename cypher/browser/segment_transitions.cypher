// Browser: the transition table into the active refresh, written at refresh time — for each
// (previous segment, current segment) pair, how many users went from one to the other. A full
// refresh starts from the previous centroids, so `stayed` (same index) means the same segment.
// Users new since the previous refresh are in no row. Read-only. Parameters: none.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (b:Segment)-[t:MOVED_TO]->(a:Segment)
WHERE t.version = m.version AND a.version = m.version
RETURN b.label AS from_segment, a.label AS to_segment, b.index = a.index AS stayed,
       t.users AS users, b.id AS from_id, a.id AS to_id
ORDER BY stayed, users DESC, from_id, to_id
