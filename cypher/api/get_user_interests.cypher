// A user's category interests under the active refresh, best first. Read-only.
// Zero rows: unknown user. One row with category null: a known user without category scores.
// $user: string (graph id); $k: int
MATCH (u:User {id: $user})
OPTIONAL MATCH (m:Meta {key: 'active_refresh'})
OPTIONAL MATCH (u)-[r:INTERESTED_IN_CATEGORY]->(c:Category)
WHERE r.version = m.version
RETURN u.id AS user, m.version AS version, c.name AS category, r.score AS score
ORDER BY score DESC, category
LIMIT $k
