// Fallback recommendations for a user without a segment (new since the last refresh): items with
// the most interaction edges overall, excluding items the user already has. Read-only.
// $user: string (graph id; may be unknown, then nothing is excluded); $k: int
OPTIONAL MATCH (u:User {id: $user})
WITH u
MATCH (peer:User)-[x:INTERACTED]->(i:Item)
WHERE u IS NULL OR NOT (u)-[:INTERACTED]->(i)
RETURN i.id AS item, i.title AS title, count(x) AS score
ORDER BY score DESC, item
LIMIT $k
