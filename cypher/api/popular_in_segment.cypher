// Fallback recommendations: items most members of the user's active segment interacted with,
// excluding items the user already has. Score = number of distinct members. Read-only.
// $user: string (graph id); $k: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User {id: $user})-[g:IN_SEGMENT]->(s:Segment)
WHERE g.version = m.version
MATCH (s)<-[h:IN_SEGMENT]-(peer:User)-[:INTERACTED]->(i:Item)
WHERE h.version = m.version AND NOT (u)-[:INTERACTED]->(i)
RETURN i.id AS item, i.title AS title, count(DISTINCT peer) AS score
ORDER BY score DESC, item
LIMIT $k
