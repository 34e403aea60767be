// Upserts items with their text and categories; replaces categories that an item no longer has.
// Marks an item updated (and text_updated) only when its text changed. Idempotent.
// $rows: list<{id, title, description, price, text_hash, categories: list<string>}>, $now: float
UNWIND $rows AS row
MERGE (i:Item {id: row.id})
ON CREATE SET i.created_at = $now, i.updated_at = $now
SET i.updated_at = CASE WHEN i.text_hash = row.text_hash THEN i.updated_at ELSE $now END,
    i.text_updated_at = CASE WHEN i.text_hash = row.text_hash THEN i.text_updated_at ELSE $now END
SET i.title = row.title, i.description = row.description, i.price = row.price,
    i.text_hash = row.text_hash
WITH i, row
OPTIONAL MATCH (i)-[old:IN_CATEGORY]->(c:Category)
WHERE NOT c.name IN row.categories
DELETE old
WITH DISTINCT i, row
UNWIND row.categories AS name
MERGE (c:Category {name: name})
MERGE (i)-[:IN_CATEGORY]->(c)
RETURN count(*) AS links
