// A page of an audience's current members (graph ids, in id order) with their arm and their top
// $top interests of the active refresh as [rank, item, reason] (unordered; sort by rank).
// Read-only. $audience: string; $after: string ("" for the first page); $limit, $top: int
MATCH (a:Audience {id: $audience})<-[r:IN_AUDIENCE]-(u:User)
WHERE r.version = a.version AND u.id > $after
WITH u, r
ORDER BY u.id
LIMIT $limit
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
OPTIONAL MATCH (u)-[i:INTERESTED_IN]->(item:Item)
WHERE i.version = m.version AND i.rank <= $top
WITH u, r, collect(CASE WHEN item IS NULL THEN null ELSE [i.rank, item.id, i.reason] END) AS interests
RETURN u.id AS user, r.arm AS arm, interests
ORDER BY user
