// Whether an item exists (one row) or not (no row). Read-only.
// $item: string
MATCH (i:Item {id: $item})
RETURN i.id AS id, i.title AS title
