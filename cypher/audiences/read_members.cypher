// A page of an audience's current members (graph ids, in id order) with their arm and their top
// $top interests of the active refresh: items and reasons, best first (parallel lists).
// Starts from the audience node (only users have IN_AUDIENCE edges), so a page walks the
// audience's edges, not every user. Read-only.
// $audience: string; $after: string ("" for the first page); $limit, $top: int
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
WITH m.version AS active
MATCH (a:Audience {id: $audience})<-[r:IN_AUDIENCE]-(u)
WITH active, a, r, u
WHERE r.version = a.version AND u.id > $after
WITH active, u, r
ORDER BY u.id
LIMIT $limit
OPTIONAL MATCH (u)-[i:INTERESTED_IN]->(item)
WHERE i.rank <= $top AND i.version = active
WITH u, r, i, item
ORDER BY u.id, i.rank
RETURN u.id AS user, r.arm AS arm, collect(item.id) AS items,
       collect(CASE WHEN i IS NULL THEN null ELSE coalesce(i.reason, '') END) AS reasons
ORDER BY user
