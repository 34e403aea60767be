// The items in any of the categories $categories (an experiment's targeted items). Read-only.
// $categories: list<string>
MATCH (c:Category)<-[:IN_CATEGORY]-(i:Item)
WHERE c.name IN $categories
RETURN DISTINCT i.id AS item
