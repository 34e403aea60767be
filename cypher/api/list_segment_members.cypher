// A page of a segment's members (graph ids), ordered by id, after the cursor. Read-only.
// $segment: string; $after: string ("" for the first page); $limit: int
MATCH (s:Segment {id: $segment})<-[g:IN_SEGMENT]-(u:User)
WHERE g.version = s.version AND u.id > $after
RETURN u.id AS user, g.distance AS distance, u.value_tier AS tier
ORDER BY user
LIMIT $limit
