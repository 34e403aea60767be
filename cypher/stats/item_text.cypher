// An item's stored text and category names. Read-only.
// $item: string
MATCH (i:Item {id: $item})
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
RETURN i.title AS title, i.description AS description, collect(c.name) AS categories
