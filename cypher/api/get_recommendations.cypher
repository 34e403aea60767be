// A user's top item interests under the active refresh, best first, with the version. Read-only.
// No rows: unknown user, or a user without scores in the active refresh (the API falls back).
// $user: string (graph id); $k: int
MATCH (m:Meta {key: 'active_refresh'})
MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(i:Item)
WHERE r.version = m.version
RETURN m.version AS version, i.id AS item, i.title AS title, r.score AS score, r.rank AS rank,
       r.reason AS reason
ORDER BY rank
LIMIT $k
