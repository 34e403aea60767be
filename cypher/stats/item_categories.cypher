// The categories of one item. Read-only.
// $item: string
MATCH (:Item {id: $item})-[:IN_CATEGORY]->(c:Category)
RETURN c.name AS name
ORDER BY name
