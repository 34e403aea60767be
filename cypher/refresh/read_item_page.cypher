// One page of items (ordered by id, after $after) with text, cached text embedding and categories.
// Read-only. $after: string ("" for the first page); $limit: int
MATCH (i:Item)
WHERE i.id > $after
WITH i ORDER BY i.id LIMIT $limit
OPTIONAL MATCH (i)-[:IN_CATEGORY]->(c:Category)
RETURN i.id AS id, i.title AS title, i.description AS description, i.text_hash AS text_hash,
       i.text_embedding_hash AS cached_hash, i.text_embedding AS text_embedding,
       collect(c.name) AS categories
ORDER BY id
