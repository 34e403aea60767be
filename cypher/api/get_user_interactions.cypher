// A user's strongest interactions (by stored decayed weight), for the neighbourhood view. Read-only.
// $user: string (graph id); $limit: int
MATCH (u:User {id: $user})-[x:INTERACTED]->(i:Item)
RETURN i.id AS item, i.title AS title, x.weight AS weight
ORDER BY weight DESC, item
LIMIT $limit
