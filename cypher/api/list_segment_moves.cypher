// Segment movements into the active refresh: for each (previous segment, current segment) pair
// written at refresh time (MOVED_TO), the number of users, with both labels and indexes (a
// full refresh starts from the previous centroids, so the same index is the same segment).
// Read-only. Parameters: none.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (b:Segment)-[t:MOVED_TO]->(a:Segment)
WHERE t.version = m.version AND a.version = m.version
RETURN m.version AS version, b.version AS previous, b.id AS from_id, b.label AS from_label,
       b.index AS from_index, a.id AS to_id, a.label AS to_label, a.index AS to_index,
       t.users AS users
ORDER BY users DESC, from_id, to_id
