// Categories of a list of items, for the neighbourhood view. Read-only.
// $items: list<string>; $limit: int
UNWIND $items AS id
MATCH (i:Item {id: id})-[:IN_CATEGORY]->(c:Category)
RETURN i.id AS item, c.name AS category
ORDER BY item, category
LIMIT $limit
