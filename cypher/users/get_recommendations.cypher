// A user's top item interests under the active refresh, best first. Read-only.
// $user: string (graph id); $k: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(i:Item)
WHERE r.version = m.version
RETURN i.id AS item, i.title AS title, r.score AS score, r.rank AS rank, r.reason AS reason
ORDER BY rank
LIMIT $k
