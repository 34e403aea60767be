// A user's segment memberships, newest first: the active refresh's and the kept history.
// Zero rows: unknown user. One row with segment_id null: a known user never segmented. Read-only.
// $user: string (graph id)
MATCH (u:User {id: $user})
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
OPTIONAL MATCH (u)-[g:IN_SEGMENT]->(s:Segment)
RETURN m.version AS active, g.version AS version, g.distance AS distance,
       g.assigned_at AS assigned_at, g.previous AS previous, s.id AS segment_id,
       s.label AS label, s.size AS size, s.top_categories AS top_categories
ORDER BY assigned_at DESC
