// Every item's id, for work done in pages of items. Read-only.
MATCH (i:Item)
RETURN i.id AS id
