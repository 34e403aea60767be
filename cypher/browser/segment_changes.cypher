// Browser: how users moved between segments since the previous refresh — for each pair of
// (previous segment, current segment) the number of users, with `changed` true when the labels
// differ. Compares the active refresh's IN_SEGMENT edges with the newest older version kept;
// users moved by an incremental refresh since then are compared with their `previous` segment.
// Users segmented for the first time since then (new customers) come with from_segment null.
// Read-only. Parameters: none.
MATCH (m:Meta {key: 'active_refresh'})
MATCH (old:Segment)
WHERE old.version < m.version
WITH m, max(old.version) AS prev
MATCH (u:User)-[now:IN_SEGMENT]->(a:Segment)
WHERE now.version = m.version
OPTIONAL MATCH (u)-[before:IN_SEGMENT]->(b:Segment)
WHERE before.version = prev
OPTIONAL MATCH (p:Segment {id: now.previous})
WITH a, coalesce(p, b) AS from
RETURN from.label AS from_segment, a.label AS to_segment,
       from IS NULL OR from.label <> a.label AS changed, count(*) AS users
ORDER BY changed DESC, users DESC, from_segment, to_segment
